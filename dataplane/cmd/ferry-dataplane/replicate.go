package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/load"
	"ferry.local/dataplane/internal/replica"
	"ferry.local/dataplane/internal/secret"
)

// replicationSource reads how the destination's server reaches the source (REPL_HOST, REPL_PORT,
// REPL_USER, REPL_PASSWORD[_FILE], REPL_CA_FILE: the source's CA as a path on the destination
// server's filesystem, REPL_TLS: verify-identity or verify-ca).
func replicationSource() (replica.Source, error) {
	s := replica.Source{Host: os.Getenv("REPL_HOST"), User: os.Getenv("REPL_USER"), CAFile: os.Getenv("REPL_CA_FILE")}
	for _, name := range []string{"REPL_HOST", "REPL_USER", "REPL_CA_FILE"} {
		if os.Getenv(name) == "" {
			return s, fmt.Errorf("environment variable %s is not set", name)
		}
	}
	port, err := wholeNumber("REPL_PORT", 3306, 1, 65535)
	if err != nil {
		return s, err
	}
	s.Port = port
	switch mode := os.Getenv("REPL_TLS"); mode {
	case "", string(conn.TLSVerifyIdentity):
		s.VerifyIdentity = true
	case string(conn.TLSVerifyCA):
	default:
		return s, fmt.Errorf("REPL_TLS must be verify-identity or verify-ca (replication runs over verified TLS only), not %q", mode)
	}
	s.Password, err = secret.FromEnvironment("REPL_PASSWORD")
	return s, err
}

// openReplicationSource logs in to the source as the replication account, over the replica's own
// path and TLS; a refusal says what to fix.
func openReplicationSource(ctx context.Context, source replica.Source) (*sql.DB, conn.Flavor, error) {
	mode := conn.TLSVerifyCA
	if source.VerifyIdentity {
		mode = conn.TLSVerifyIdentity
	}
	// The CA as this step reads it (REPL_CA_FILE is the server's path, which may differ).
	ca := os.Getenv("SOURCE_TLS_CA_FILE")
	if ca == "" {
		ca = source.CAFile
	}
	db, err := conn.Open(conn.Settings{Host: source.Host, Port: strconv.Itoa(source.Port), User: source.User,
		Password: source.Password, TLS: mode, CAFile: ca})
	if err != nil {
		return nil, "", err
	}
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		db.Close()
		return nil, "", explainReplicationLogin(err, source)
	}
	return db, conn.FlavorOf(version), nil
}

// sourcePosition reads where the source's binary log is now (the GTID position a caught-up
// replica has applied, "" for a source without GTIDs) and the source's server id.
func sourcePosition(ctx context.Context, db *sql.DB, flavor conn.Flavor) (string, int64, error) {
	variable := "@@GLOBAL.gtid_binlog_pos"
	if flavor == conn.MySQL {
		variable = "@@GLOBAL.gtid_executed"
	}
	var position string
	var serverID int64
	err := db.QueryRowContext(ctx, "SELECT "+variable+", @@GLOBAL.server_id").Scan(&position, &serverID)
	return position, serverID, err
}

// explainReplicationLogin says what to fix when the replication account cannot log in to the
// source from the destination's side.
func explainReplicationLogin(err error, source replica.Source) error {
	text := err.Error()
	where := fmt.Sprintf("the source at %s, as the destination reaches it,", sourceAddress(source))
	switch {
	case strings.Contains(text, "Access denied"):
		return fmt.Errorf("%s refuses the replication account %q (%s); check ferry:migration.live.replicationUser, the secret sourceReplicationPassword, and that the account may log in from the destination with TLS", where, source.User, text)
	case strings.Contains(text, "x509:"), strings.Contains(text, "tls:"), strings.Contains(text, "does not support TLS"):
		return fmt.Errorf("%s failed TLS (%s): replication runs over verified TLS; check ferry:source.tls.caCert and that the source's certificate names ferry:migration.live.sourceHost", where, text)
	}
	return fmt.Errorf("%s cannot be reached (%s); check ferry:migration.live.sourceHost and sourcePort, and that the destination's pods may reach that address", where, text)
}

// runState is the run's state in ferry.runs on the destination ("" when it has none).
func runState(ctx context.Context, db *sql.DB, runID string) (string, error) {
	var state sql.NullString
	err := db.QueryRowContext(ctx, "SELECT state FROM ferry.runs WHERE run_id = ?", runID).Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "doesn't exist") {
		return "", err
	}
	return state.String, nil
}

// runReplicate: in live mode, after the import's verification, makes the destination a replica
// of the source from the dump's position (package replica), then watches it for up to
// REPL_CHECK_SECONDS (30): it succeeds once the replica has applied everything the source had
// logged when the step began, or, with more to apply, when the time is up and it still
// replicates. A replication that cannot run (the source unreachable, the account refused, the
// binary log purged past the dump's position) fails the step, said with the fix.
func runReplicate(ctx context.Context) error {
	check, err := seconds("REPL_CHECK_SECONDS", 30)
	if err != nil {
		return err
	}
	// Until the cutover every pulumi up runs this step again (ferry's Replication component).
	if asked := os.Getenv("REPL_CHECK_REQUESTED_AT"); asked != "" {
		logf("checking the replica for the pulumi up that began at %s", asked)
	}
	source, err := replicationSource()
	if err != nil {
		return err
	}
	destination, err := conn.FromEnvironment("DEST")
	if err != nil {
		return err
	}
	r, err := openRun(ctx, "")
	if err != nil {
		return err
	}
	sourceDB, sourceFlavor, err := openReplicationSource(ctx, source)
	if err != nil {
		return err
	}
	target, sourceID, err := sourcePosition(ctx, sourceDB, sourceFlavor)
	sourceDB.Close()
	if err != nil {
		return err
	}
	db, err := conn.OpenInterpolating(destination)
	if err != nil {
		return err
	}
	defer db.Close()
	flavor, err := flavorOf(ctx, db, "the destination database", "ferry:destination")
	if err != nil {
		return err
	}
	m := r.manifest
	// Only a verified import is made a replica, and never one cut over: that would send a server
	// that takes writes back to the snapshot's position.
	switch state, err := runState(ctx, db, m.RunID); {
	case err != nil:
		return err
	case state == load.StateCutOver && os.Getenv("REPL_CHECK_REQUESTED_AT") != "":
		// Only an up whose config asks for no cutover checks the replica: with it, ferry would
		// send the applications' Service back to the source, which is read-only since.
		return fmt.Errorf("run %s was cut over: the destination takes the writes and the source is read-only; set ferry:migration.cutover back to true (false would send the applications' Service, migration.live.applicationService, back to the source)", m.RunID)
	case state == load.StateCutOver:
		logf("run %s was cut over: the destination takes the writes; nothing to replicate", m.RunID)
		return nil
	case state != "imported" && state != load.StateReplicating:
		return fmt.Errorf("run %s is not imported (state: %s); the import and its verification must succeed first", m.RunID, orNone(state))
	}
	// A replica ignores events that carry its own server id: with the source's, it would skip them all.
	var destinationID int64
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id").Scan(&destinationID); err != nil {
		return err
	}
	if destinationID == sourceID {
		return fmt.Errorf("the destination's server id is the source's (%d): it would skip every change the source logs; give the source another server_id (ferry gives the server it runs one derived from its namespace and name)", sourceID)
	}
	said, err := replica.Start(ctx, db, flavor, source, replica.Position{GTID: m.GTID, File: m.BinlogFile, Offset: m.BinlogPosition}, m.Databases)
	if err != nil {
		return err
	}
	logf("%s", said)
	if _, err := db.ExecContext(ctx, "UPDATE ferry.runs SET state = ? WHERE run_id = ?", load.StateReplicating, m.RunID); err != nil {
		return fmt.Errorf("recording run %s as replicating: %w", m.RunID, err)
	}
	// What the step saw last goes to the run's live record, which the report reads.
	seen := func(status replica.Status, behind int64) error {
		seconds := int64(-1)
		if status.SecondsBehind.Valid {
			seconds = status.SecondsBehind.Int64
		}
		return storeLiveRecord(ctx, r, LiveRecord{RunID: m.RunID, State: load.StateReplicating,
			Source:      sourceAddress(source),
			Replication: &ReplicationSeen{CheckedAt: utcNow(), Behind: behind, SecondsBehind: seconds, Applied: status.Applied}})
	}
	deadline := time.Now().Add(check)
	for {
		status, err := replica.Read(ctx, db, flavor)
		if err != nil {
			return err
		}
		state := status.State()
		if state == replica.Broken && (status.SQLErrno != 0 || status.IOErrno == 1236 || time.Now().After(deadline)) {
			return errors.New(replica.Explain(status))
		}
		// A thread that stopped on an error may show as stopped for a moment before its error does.
		if (state == replica.Stopped || state == replica.NotConfigured) && time.Now().After(deadline) {
			return fmt.Errorf("the destination's replication is %s after it was started (I/O thread %s, SQL thread %s)", state, status.IORunning, status.SQLRunning)
		}
		behind, known := int64(0), false
		if target != "" {
			if behind, err = replica.Behind(target, status.Applied); err == nil {
				known = true
			}
		}
		if state == replica.Replicating && known && behind == 0 {
			logf("replicating from %s:%s, caught up with the source's position when this step began (%s)", status.SourceHost, status.SourcePort, target)
			return seen(status, 0)
		}
		if time.Now().After(deadline) {
			if state != replica.Replicating {
				return fmt.Errorf("the destination has not connected to the source in %s (%s): check ferry:migration.live.sourceHost and the network between the destination's pods and the source", check, state)
			}
			lag := "an unknown number of"
			if known {
				lag = strconv.FormatInt(behind, 10)
			} else {
				behind = -1
			}
			logf("replicating from %s:%s, %s transactions behind the source; the catch-up goes on", status.SourceHost, status.SourcePort, lag)
			return seen(status, behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
