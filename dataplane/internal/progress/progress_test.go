package progress

import (
	"regexp"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	line := Line("dump", 50<<20, 100<<20, time.Now().Add(-10*time.Second), "total=estimated")
	want := regexp.MustCompile(`^progress step=dump bytes=52428800/104857600 \(50%\) rate=5\.0MiB/s eta=(9|10)s elapsed=10s total=estimated$`)
	if !want.MatchString(line) {
		t.Fatalf("got %q", line)
	}
	if over := Line("import", 200, 100, time.Now().Add(-time.Second), ""); !regexp.MustCompile(`\(100%\).*eta=0s`).MatchString(over) {
		t.Fatalf("an estimate exceeded: got %q", over)
	}
}
