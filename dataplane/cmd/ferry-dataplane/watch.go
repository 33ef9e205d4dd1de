package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"ferry.local/dataplane/internal/beacon"
	"ferry.local/dataplane/internal/logline"
	"ferry.local/dataplane/internal/objstore"
)

// runWatch prints, on stderr, the log lines a step in a cluster posts (package beacon), until the
// step ends. It runs beside the step's Job in `pulumi up`, which awaits the Job itself and says
// why it failed: the watch only shows what happens, and always ends quietly.
//
// An attempt of the step that failed before this watch began (an earlier up of the same run id) is
// not this one's: the watch waits for a new attempt (the Job's retry), or for the one it first saw
// to move on. One that had already succeeded is shown and ends the watch: that is a Job this up
// adopts as it is (the up that made it was killed before it saw the Job finish), and no new
// attempt is coming to wait for.
func runWatch(ctx context.Context) error {
	name := os.Getenv("WATCH_STEP")
	if name != "dump" && name != "restore" && name != "import" {
		return fmt.Errorf("WATCH_STEP must be dump, restore or import, not %q", name)
	}
	start, err := seconds("WATCH_START_SECONDS", 900)
	if err != nil {
		return err
	}
	stall, err := seconds("WATCH_STALL_SECONDS", 120)
	if err != nil {
		return err
	}
	poll, err := seconds("WATCH_POLL_SECONDS", 3)
	if err != nil {
		return err
	}
	id, key, store, err := runStore()
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { logf("watch %s: %s", name, fmt.Sprintf(format, args...)) }
	// A refusal that waiting does not change (the bucket gone, the reading user revoked) ends the
	// watch with it: its step meets the same refusal, and pulumi up must not wait on a watch that
	// can never see a line.
	var refused error
	read := func() *beacon.Record {
		record, err := beacon.Read(ctx, store, *key, id, name, objstore.IsNotFound)
		if err != nil && ctx.Err() == nil {
			if objstore.Lasting(err) {
				refused = fmt.Errorf("watch %s: %w", name, err)
			} else {
				say("%v", err)
			}
		}
		return record
	}

	began := time.Now()
	earlier := read()
	if refused != nil {
		return refused
	}
	if earlier != nil && earlier.State == beacon.Done {
		say("the %s step of run %s finished before this pulumi up began; its lines:", name, id)
		for _, line := range earlier.Lines {
			fmt.Fprintln(os.Stderr, logline.Escape(line.Text))
		}
		return nil
	}
	say("waiting for the %s step's lines (run %s)", name, id)
	var following string
	printed, lastChange := 0, time.Now()
	var lastUpdate string
	var failedAt time.Time
	for {
		record := read()
		if refused != nil {
			return refused
		}
		if record != nil {
			ours := following == record.Attempt || isThisWatchs(earlier, record)
			if ours && following != record.Attempt {
				following, printed, lastUpdate, lastChange = record.Attempt, 0, "", time.Now()
			}
			if ours {
				if record.UpdatedAt != lastUpdate {
					lastUpdate, lastChange = record.UpdatedAt, time.Now()
				}
				if len(record.Lines) > 0 && record.Lines[0].Seq > printed+1 {
					say("(%d earlier lines not shown)", record.Lines[0].Seq-printed-1)
				}
				for _, line := range record.Lines {
					if line.Seq > printed {
						fmt.Fprintln(os.Stderr, logline.Escape(line.Text))
						printed = line.Seq
					}
				}
				switch {
				case record.State == beacon.Running:
					failedAt = time.Time{}
				case record.State != beacon.Failed:
					return nil
				case failedAt.IsZero():
					// A failed attempt may be retried by its Job (after a backoff of about 10 s):
					// the next attempt's lines, its own cause, are shown too.
					failedAt = time.Now()
				case time.Since(failedAt) > retryWait:
					return nil
				}
			}
		}
		switch {
		case following == "" && time.Since(began) > start:
			say("the %s step posted nothing within %.0fs; its Job says why", name, start.Seconds())
			return nil
		case following != "" && time.Since(lastChange) > stall:
			say("no news from the %s step for %.0fs (stopped or killed?); its Job says what happened", name, stall.Seconds())
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

// retryWait is how long a watch waits after a failed attempt for the Job's next one.
const retryWait = 30 * time.Second

// isThisWatchs says whether a step's record is of the attempt this watch is for: any attempt when
// there was none at the watch's start, a new attempt, or the one seen at the start if it was
// running then and has moved since (it began just before the watch, and may have ended already).
// An attempt that had ended, or that was running but never moves again (killed), is an earlier
// up's.
func isThisWatchs(earlier, record *beacon.Record) bool {
	return earlier == nil || record.Attempt != earlier.Attempt ||
		(earlier.State == beacon.Running && record.UpdatedAt != earlier.UpdatedAt)
}
