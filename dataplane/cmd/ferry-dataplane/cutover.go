package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/kubeapi"
	"ferry.local/dataplane/internal/load"
	"ferry.local/dataplane/internal/replica"
	"ferry.local/dataplane/internal/verify"
)

// runCutover (live mode, migration.cutover): moves the writes from the source to the destination
// (package replica's Cutover: the source read-only within CUTOVER_DRAIN_SECONDS, the destination
// caught up within CUTOVER_CATCHUP_SECONDS, replication stopped, the destination writable, rolled
// back on any failure before that), then compares every object of the migrated databases on both
// sides as they were at the switch (the same digests as the verification). The source stays
// read-only: it must take no write the destination would not see.
func runCutover(ctx context.Context) error {
	drain, err := seconds("CUTOVER_DRAIN_SECONDS", 10)
	if err != nil {
		return err
	}
	catchUp, err := seconds("CUTOVER_CATCHUP_SECONDS", 60)
	if err != nil {
		return err
	}
	// The applications' Service, and the API client that switches it, before anything changes: a
	// step that could not switch it must fail before the source is made read-only.
	service, err := applicationServiceFromEnvironment()
	if err != nil {
		return err
	}
	var api *kubeapi.Client
	if service != nil {
		if api, err = kubeapi.InCluster(); err != nil {
			return fmt.Errorf("the applications' Service %s is switched through the Kubernetes API: %w", service.Name, err)
		}
	}
	r, err := openRun(ctx, "")
	if err != nil {
		return err
	}
	m := r.manifest
	source, err := conn.OpenFromEnvironment("SOURCE")
	if err != nil {
		return err
	}
	defer source.Close()
	destination, err := conn.OpenFromEnvironment("DEST")
	if err != nil {
		return err
	}
	defer destination.Close()
	sourceFlavor, err := flavorOf(ctx, source, "the source", "ferry:source")
	if err != nil {
		return err
	}
	destinationFlavor, err := flavorOf(ctx, destination, "the destination database", "ferry:destination")
	if err != nil {
		return err
	}
	switch state, err := runState(ctx, destination, m.RunID); {
	case err != nil:
		return err
	case state == load.StateCutOver:
		logf("run %s is already cut over: the destination takes the writes; nothing to do", m.RunID)
		// A Service the first cutover could not switch is switched now (both patches change
		// nothing on one switched already).
		if service != nil {
			if err := service.selectDestination(ctx, api); err != nil {
				return fmt.Errorf("run %s is cut over, but the applications' Service still sends them to the source: %w", m.RunID, err)
			}
			logf("the applications' Service %s selects the destination's server", service.Name)
		}
		// A first cutover that could not switch the Service closed nothing, and an application may
		// have reached the read-only source since: its connections are stale now that the Service
		// selects the destination, and are closed as at the first cutover.
		if closeSourceSessions() {
			replica.CloseSessions(ctx, source, logf)
		}
		return recordCutOverOnce(ctx, r)
	case state != load.StateReplicating:
		return fmt.Errorf("run %s does not replicate (state: %s): the replication step must succeed before a cutover", m.RunID, orNone(state))
	}
	switched, err := replica.Cutover{Source: source, SourceFlavor: sourceFlavor, Destination: destination,
		DestinationFlavor: destinationFlavor, Drain: drain, CatchUp: catchUp,
		Sessions: max(1, m.DataStreams()), Log: logf}.Run(ctx)
	if err != nil {
		return err
	}
	defer conn.CloseAll(switched.SourceSnapshots)
	defer conn.CloseAll(switched.DestinationSnapshots)
	// The applications follow at once, before anything is recorded or compared: every moment
	// until then they reach the read-only source. A Service that could not be switched is said at
	// the end; the destination takes writes either way.
	var serviceProblem error
	if service != nil {
		if serviceProblem = service.selectDestination(ctx, api); serviceProblem == nil {
			logf("the applications' Service %s selects the destination's server: switched %s after the source stopped taking writes",
				service.Name, time.Since(switched.ReadOnlyAt).Round(time.Millisecond))
		}
	}
	// Recorded at once: from here the destination takes writes, and no step may send it back.
	detail := fmt.Sprintf("cut over at %s after a write-unavailable window of %s", switched.Position, switched.Window.Round(time.Millisecond))
	if _, err := destination.ExecContext(ctx, "UPDATE ferry.runs SET state = ?, detail = ? WHERE run_id = ?", load.StateCutOver, detail, m.RunID); err != nil {
		return fmt.Errorf("cut over, but recording it in ferry.runs failed (%v): do not run the replication step of run %s again", err, m.RunID)
	}
	// Where the applications reach the database through ferry's Service (the graph sets it then),
	// the connections they still hold to the source are closed: they reconnect to the destination.
	if closeSourceSessions() && serviceProblem == nil {
		replica.CloseSessions(ctx, source, logf)
	}
	done := CutoverDone{At: utcNow(), Position: switched.Position, WindowMs: switched.Window.Round(time.Millisecond).Milliseconds()}
	rowKey, err := digest.RowKeyFrom(*r.key)
	if err != nil {
		return err
	}
	logf("comparing every object of %s on both sides as they were at the cutover", strings.Join(m.Databases, " "))
	sides := make([][]digest.Object, 2)
	for i, sessions := range [][]*sql.Conn{switched.SourceSnapshots, switched.DestinationSnapshots} {
		objects, err := digest.Catalog(ctx, sessions[0], m.Databases)
		if err != nil {
			return err
		}
		if err := digest.Contents(ctx, rowKey, sessions, objects, nil); err != nil {
			return err
		}
		sides[i] = objects
	}
	mismatches := verify.Compare(sides[0], sides[1])
	for _, mismatch := range mismatches {
		logf("differs: %s: %s", mismatch.Object, mismatch.Problem)
	}
	tables, rows := 0, int64(0)
	for _, o := range sides[0] {
		if o.Kind == digest.Table {
			tables++
			rows += o.Rows
		}
	}
	done.Compared, done.Objects, done.Tables, done.Rows, done.Mismatched = true, len(sides[0]), tables, rows, len(mismatches)
	if err := storeLiveRecord(ctx, r, LiveRecord{RunID: m.RunID, State: load.StateCutOver, Source: net.JoinHostPort(os.Getenv("SOURCE_HOST"), cmp.Or(os.Getenv("SOURCE_PORT"), "3306")), Cutover: &done}); err != nil {
		return fmt.Errorf("cut over (the destination takes writes, the source is read-only), but %v", err)
	}
	var problems []string
	if serviceProblem != nil {
		problems = append(problems, fmt.Sprintf("the applications' Service still sends them to the source (%v): run pulumi up again, which finds the run cut over and switches the Service", serviceProblem))
	}
	if len(mismatches) > 0 {
		problems = append(problems, fmt.Sprintf("%d objects differ between the source and the destination at the cutover (above): check them before the applications rely on them", len(mismatches)))
	}
	if len(problems) > 0 {
		return fmt.Errorf("cut over (the destination takes writes, the source is read-only), but %s", strings.Join(problems, "; and "))
	}
	logf("verified at the cutover: all %d objects, %d tables (%d rows), equal on both sides; write-unavailable window %s", len(sides[0]), tables, rows, switched.Window.Round(time.Millisecond))
	return nil
}

// closeSourceSessions: the applications reach the database through ferry's Service (the graph
// sets CLOSE_SOURCE_SESSIONS then), so their sessions on the source are closed once it moved.
func closeSourceSessions() bool { return os.Getenv("CLOSE_SOURCE_SESSIONS") == "true" }

// recordCutOverOnce makes sure a run cut over has a live record that says so: a cutover whose
// record could not be stored is run again only to find the run cut over, and the report must not
// show it replicating.
func recordCutOverOnce(ctx context.Context, r run) error {
	record, _, err := readLiveRecord(ctx, r)
	if err != nil {
		return err
	}
	if record != nil && record.State == load.StateCutOver {
		return nil
	}
	// Its details are in ferry.runs and the first cutover's log; the record says they are unknown.
	stored := LiveRecord{RunID: r.manifest.RunID, State: load.StateCutOver, Cutover: &CutoverDone{WindowMs: -1}}
	if record != nil {
		stored.Source = record.Source
	}
	return storeLiveRecord(ctx, r, stored)
}

// flavorOf asks a server whose it is.
func flavorOf(ctx context.Context, db *sql.DB, role, key string) (conn.Flavor, error) {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", errors.New(conn.Explain(err, role, key))
	}
	return conn.FlavorOf(version), nil
}
