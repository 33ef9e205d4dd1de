// Package deadline says why a step was stopped by a signal: a Job's deadline (ferry's
// ferry:migration.*TimeoutMinutes) is the common cause, and the one the user can fix by config.
package deadline

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// started is when this process began: a pod's first moment, near enough.
var started = time.Now()

// margin is how close to its deadline a stopped step counts as stopped by it: the kubelet's
// signal arrives within seconds of the deadline, a pod's start lags its Job's by seconds.
const margin = 90 * time.Second

// Stopped is the sentence for `what` ("the import") stopped by SIGTERM or SIGINT. The Job gives
// STEP_DEADLINE_SECONDS (its activeDeadlineSeconds) and STEP_DEADLINE_KEY (the setting that makes
// it), and STEP_DEADLINE_WITH when the deadline adds another step's setting (the import follows
// the dump, so its deadline is the dump's and its own); a step run elsewhere has none.
func Stopped(what string) string {
	return stoppedAfter(what, time.Since(started), os.Getenv("STEP_DEADLINE_SECONDS"), os.Getenv("STEP_DEADLINE_KEY"), os.Getenv("STEP_DEADLINE_WITH"))
}

func stoppedAfter(what string, ran time.Duration, deadlineSeconds, key, with string) string {
	seconds, err := strconv.Atoi(deadlineSeconds)
	if err != nil || seconds <= 0 || key == "" {
		return what + " was stopped by a signal before it finished"
	}
	limit := time.Duration(seconds) * time.Second
	named := key
	if with != "" {
		named = key + " with " + with
	}
	if ran >= limit-margin {
		return fmt.Sprintf("%s ran out of time: its Job's deadline, %s (%s), passed after %s. Raise %s and run pulumi up again",
			what, named, minutes(limit), ran.Round(time.Second), key)
	}
	// A retried pod starts after its Job did, so its deadline may come sooner than its own age says.
	return fmt.Sprintf("%s was stopped by a signal before it finished, after %s (its pod deleted or evicted, or its Job's deadline passed: %s is %s, counted from the Job's first attempt)",
		what, ran.Round(time.Second), named, minutes(limit))
}

func minutes(d time.Duration) string {
	if d == time.Minute {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}
