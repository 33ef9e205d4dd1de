package heldlock

import (
	"testing"
	"time"
)

func TestIntervalStaysWellWithinTheTimeout(t *testing.T) {
	for timeout, want := range map[time.Duration]time.Duration{
		0:                200 * time.Millisecond,
		time.Second:      time.Second / 3,
		9 * time.Second:  3 * time.Second,
		60 * time.Second: 20 * time.Second,
		8 * time.Hour:    30 * time.Second,
	} {
		if got := Interval(timeout); got != want {
			t.Errorf("Interval(%v) = %v, want %v", timeout, got, want)
		}
	}
}
