package deadline

import (
	"strings"
	"testing"
	"time"
)

func TestStoppedNamesTheDeadlineThatPassed(t *testing.T) {
	key := "ferry:migration.importTimeoutMinutes"
	cases := []struct {
		name               string
		ran                time.Duration
		seconds, key, with string
		want, wantNot      string
	}{
		{"at the deadline", 59*time.Second + 300*time.Millisecond, "60", key, "",
			"the import ran out of time: its Job's deadline, ferry:migration.importTimeoutMinutes (1 minute), passed after 59s. Raise ferry:migration.importTimeoutMinutes", ""},
		{"long before it", 10 * time.Second, "600", key, "",
			"the import was stopped by a signal before it finished, after 10s (its pod deleted or evicted, or its Job's deadline passed: ferry:migration.importTimeoutMinutes is 10 minutes", "ran out of time"},
		// The import follows the dump: its deadline is both settings', the fix its own.
		{"at a deadline of two settings", 119 * time.Second, "120", key, "ferry:migration.dumpTimeoutMinutes",
			"the import ran out of time: its Job's deadline, ferry:migration.importTimeoutMinutes with ferry:migration.dumpTimeoutMinutes (2 minutes), passed after 1m59s. Raise ferry:migration.importTimeoutMinutes and run", ""},
		{"before a deadline of two settings", 10 * time.Second, "3660", key, "ferry:migration.dumpTimeoutMinutes",
			"its Job's deadline passed: ferry:migration.importTimeoutMinutes with ferry:migration.dumpTimeoutMinutes is 61 minutes", "ran out of time"},
		{"not in a Job", time.Hour, "", "", "", "the import was stopped by a signal before it finished", "deadline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := stoppedAfter("the import", c.ran, c.seconds, c.key, c.with)
			if !strings.Contains(got, c.want) || (c.wantNot != "" && strings.Contains(got, c.wantNot)) {
				t.Fatalf("got %q", got)
			}
		})
	}
}
