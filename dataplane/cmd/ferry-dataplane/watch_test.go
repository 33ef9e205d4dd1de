package main

import (
	"testing"

	"ferry.local/dataplane/internal/beacon"
)

// The record a watch first sees may be of its own attempt, begun a moment before it, which can end
// before the watch reads again: that attempt is still this watch's. (In CI a dump finished between
// the watch's first two reads, and the watch waited for an attempt that never came.)
func TestAWatchFollowsTheAttemptItSawStartAndAnyNewOneButNotAnEndedOne(t *testing.T) {
	running := &beacon.Record{Attempt: "a", State: beacon.Running, UpdatedAt: "t1"}
	for _, c := range []struct {
		name    string
		earlier *beacon.Record
		record  *beacon.Record
		ours    bool
	}{
		{"nothing at the start", nil, running, true},
		{"a new attempt", &beacon.Record{Attempt: "old", State: beacon.Done, UpdatedAt: "t0"}, running, true},
		{"the running attempt, moved on", running, &beacon.Record{Attempt: "a", State: beacon.Running, UpdatedAt: "t2"}, true},
		{"the running attempt, ended since", running, &beacon.Record{Attempt: "a", State: beacon.Done, UpdatedAt: "t2"}, true},
		{"the running attempt, never moving again", running, running, false},
		{"an attempt that had ended", &beacon.Record{Attempt: "a", State: beacon.Failed, UpdatedAt: "t1"},
			&beacon.Record{Attempt: "a", State: beacon.Failed, UpdatedAt: "t1"}, false},
	} {
		if got := isThisWatchs(c.earlier, c.record); got != c.ours {
			t.Errorf("%s: %v, want %v", c.name, got, c.ours)
		}
	}
}
