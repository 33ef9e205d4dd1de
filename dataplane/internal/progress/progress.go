// Package progress writes the structured progress lines of long steps:
// "progress step=S bytes=DONE/TOTAL (P%) rate=R.RMiB/s eta=Ns elapsed=Ns [detail]".
package progress

import (
	"fmt"
	"time"
)

// Line is one progress line: bytes done of the total, the rate since started, the time left at
// that rate.
func Line(step string, done, total int64, started time.Time, detail string) string {
	elapsed := time.Since(started).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	percent := int64(0)
	if total > 0 {
		percent = min(100, 100*done/total)
	}
	left := total - done
	eta := "0s"
	switch {
	case left > 0 && rate > 0:
		eta = fmt.Sprintf("%ds", int64(float64(left)/rate))
	case left > 0:
		eta = "unknown"
	}
	line := fmt.Sprintf("progress step=%s bytes=%d/%d (%d%%) rate=%.1fMiB/s eta=%s elapsed=%ds",
		step, done, total, percent, rate/(1<<20), eta, int64(elapsed))
	if detail != "" {
		line += " " + detail
	}
	return line
}

// Every calls report every interval until the returned stop is called.
func Every(interval time.Duration, report func()) (stop func()) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				report()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}
