package chunks

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// DefaultStall is how long a transfer may make no progress while it has work before it is
// abandoned: an object store that stops answering (paused, partitioned, its disk gone) holds a
// connection open without error, and nothing else would ever end the wait.
const DefaultStall = 2 * time.Minute

// DefaultDownloadStall is the same for a download, shorter: a GET streams from its first byte, so
// a download that receives nothing for this long has a dead connection (a network path that drops
// packets leaves it open and silent for many minutes), and resuming it from the byte where it
// stopped, on a new connection, costs nothing.
const DefaultDownloadStall = 30 * time.Second

// watchdog cancels an operation that has been busy without progress for longer than limit.
type watchdog struct {
	last atomic.Int64 // unix nanoseconds of the last progress
	busy atomic.Bool
}

func (w *watchdog) progress() { w.last.Store(time.Now().UnixNano()) }

// guard runs until stop is called, cancelling with a cause naming what stalled.
func guard(limit time.Duration, what string, cancel context.CancelCauseFunc) (*watchdog, func()) {
	w := &watchdog{}
	w.progress()
	done := make(chan struct{})
	ended := make(chan struct{})
	tick := min(time.Second, limit/4)
	go func() {
		defer close(ended)
		ticker := time.NewTicker(tick)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				if w.busy.Load() && time.Since(time.Unix(0, w.last.Load())) > limit {
					cancel(fmt.Errorf("%s made no progress for %s", what, limit))
					return
				}
			}
		}
	}()
	return w, func() {
		close(done)
		<-ended
	}
}
