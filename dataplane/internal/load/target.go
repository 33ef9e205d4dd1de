package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"ferry.local/dataplane/internal/logline"
	"ferry.local/dataplane/internal/sqlident"
)

// targetDatabase is what the destination holds of one of the run's databases before the
// attempt's first statement, and whether this dump made it.
type targetDatabase struct {
	name    string
	existed bool
	// Objects by kind: tables (views and sequences among them), routines (procedures, functions,
	// packages), events. Triggers belong to tables.
	tables, routines, events int
	// ownedByRun: an earlier attempt of this same dump (same run id and digest) created it, so what
	// it holds is that attempt's partial import.
	ownedByRun bool
}

func (t targetDatabase) objects() int { return t.tables + t.routines + t.events }

// created says whether this dump made the database: it may drop it when it fails.
func (t targetDatabase) created() bool { return t.ownedByRun || !t.existed }

// describe says what the database holds: "`shop` holds 4 tables or views, 1 routine and 1 event".
func (t targetDatabase) describe() string {
	var parts []string
	for _, kind := range []struct {
		n                int
		singular, plural string
	}{{t.tables, "table or view", "tables or views"}, {t.routines, "routine", "routines"}, {t.events, "event", "events"}} {
		switch {
		case kind.n == 1:
			parts = append(parts, "1 "+kind.singular)
		case kind.n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", kind.n, kind.plural))
		}
	}
	held := strings.Join(parts, ", ")
	if i := strings.LastIndex(held, ", "); i >= 0 {
		held = held[:i] + " and " + held[i+2:]
	}
	return sqlident.Quote(t.name) + " holds " + held
}

// bookkeeping is ferry's record on the destination: each run's state, and for each database of
// a run whether that run created it (so a failed import drops only what its own dump made).
var bookkeeping = []string{
	"CREATE DATABASE IF NOT EXISTS ferry",
	`CREATE TABLE IF NOT EXISTS ferry.runs (
	   run_id VARCHAR(63) PRIMARY KEY, state VARCHAR(16) NOT NULL, sha256 CHAR(64) NOT NULL,
	   target_was_empty BOOLEAN NOT NULL, started_at DATETIME NOT NULL, finished_at DATETIME NULL,
	   detail TEXT NULL)`,
	`CREATE TABLE IF NOT EXISTS ferry.run_databases (
	   run_id VARCHAR(63) NOT NULL, sha256 CHAR(64) NOT NULL,
	   database_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	   created BOOLEAN NOT NULL, PRIMARY KEY (run_id, database_name))`,
	// Which stack imported a run id into this server first: the records above are kept per run
	// id, so a second stack with the same run id would take the first one's for its own.
	`CREATE TABLE IF NOT EXISTS ferry.run_stacks (
	   run_id VARCHAR(63) PRIMARY KEY,
	   stack VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	   claimed_at DATETIME NOT NULL)`,
}

// keepBooks creates ferry's bookkeeping tables where they are missing and claims the run id for
// the stack.
func keepBooks(ctx context.Context, db *sql.DB, runID, stack string) error {
	for _, statement := range bookkeeping {
		if _, err := db.ExecContext(ctx, statement); err != nil {
			return fmt.Errorf("cannot create ferry's bookkeeping tables (ferry.runs) on the destination: %v", err)
		}
	}
	return claimRunID(ctx, db, runID, stack)
}

// RecordRestored records a physical copy as imported by the stack, on the server just restored
// from it into an empty volume: every database of the run is the copy's (the verification and the
// live steps read the same records as after an import).
func RecordRestored(ctx context.Context, db *sql.DB, runID, digest, stack string, databases []string) error {
	if err := keepBooks(ctx, db, runID, stack); err != nil {
		return err
	}
	targets := make([]targetDatabase, len(databases))
	for i, name := range databases {
		targets[i] = targetDatabase{name: name}
	}
	if err := recordTarget(ctx, db, runID, digest, targets); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `REPLACE INTO ferry.runs (run_id, state, sha256, target_was_empty, started_at, finished_at)
	    VALUES (?, 'imported', ?, TRUE, UTC_TIMESTAMP(), UTC_TIMESTAMP())`, runID, digest)
	return err
}

// claimRunID records the run id as the stack's on this server, or refuses it when another stack
// imported a run of that id here first.
func claimRunID(ctx context.Context, db *sql.DB, runID, stack string) error {
	if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO ferry.run_stacks (run_id, stack, claimed_at) VALUES (?, ?, UTC_TIMESTAMP())", runID, stack); err != nil {
		return fmt.Errorf("recording the run's stack in ferry.run_stacks: %w", err)
	}
	var owner string
	if err := db.QueryRowContext(ctx, "SELECT stack FROM ferry.run_stacks WHERE run_id = ?", runID).Scan(&owner); err != nil {
		return fmt.Errorf("reading the run's stack from ferry.run_stacks: %w", err)
	}
	if owner != stack {
		return fmt.Errorf("run id %s was imported into this server by %s, and this is %s; nothing was imported. One server keeps one record per run id: give this stack a run id of its own (pulumi config set --path ferry:migration.runId <another>)",
			runID, describeStack(owner), describeStack(stack))
	}
	return nil
}

// describeStack names a stack as the import was told it ("" when run by hand, not by a stack).
func describeStack(stack string) string {
	if stack == "" {
		return "an import run by hand (no stack)"
	}
	return "the stack " + logline.Escape(stack)
}

// readTarget takes the inventory of the run's databases on the destination; owned are the
// databases an earlier attempt of the same dump created.
func readTarget(ctx context.Context, db *sql.DB, databases []string, owned map[string]bool) ([]targetDatabase, error) {
	in, names := sqlident.InList(databases)
	byName := map[string]*targetDatabase{}
	targets := make([]targetDatabase, len(databases))
	for i, name := range databases {
		targets[i] = targetDatabase{name: name, ownedByRun: owned[name]}
		byName[name] = &targets[i]
	}
	for _, count := range []struct {
		query string
		field func(*targetDatabase) *int
	}{
		{"SELECT SCHEMA_NAME, 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN " + in, nil},
		{"SELECT TABLE_SCHEMA, COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN " + in + " GROUP BY TABLE_SCHEMA",
			func(t *targetDatabase) *int { return &t.tables }},
		{"SELECT ROUTINE_SCHEMA, COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN " + in + " GROUP BY ROUTINE_SCHEMA",
			func(t *targetDatabase) *int { return &t.routines }},
		{"SELECT EVENT_SCHEMA, COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN " + in + " GROUP BY EVENT_SCHEMA",
			func(t *targetDatabase) *int { return &t.events }},
	} {
		rows, err := db.QueryContext(ctx, count.query, names...)
		if err != nil {
			return nil, fmt.Errorf("cannot take the inventory of the destination's databases: %v", err)
		}
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				rows.Close()
				return nil, err
			}
			t, ok := byName[name]
			if !ok {
				// information_schema compares names without regard to case on some servers.
				continue
			}
			if count.field == nil {
				t.existed = true
			} else {
				*count.field(t) = n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// ownedDatabases are the databases an earlier attempt of this same dump (run id and digest)
// recorded as created by it.
func ownedDatabases(ctx context.Context, db *sql.DB, runID, digest string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT database_name FROM ferry.run_databases WHERE run_id = ? AND sha256 = ? AND created", runID, digest)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	owned := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		owned[name] = true
	}
	return owned, rows.Err()
}

// recordTarget writes, before the attempt's first statement, which databases this dump made.
func recordTarget(ctx context.Context, db *sql.DB, runID, digest string, targets []targetDatabase) error {
	if _, err := db.ExecContext(ctx, "DELETE FROM ferry.run_databases WHERE run_id = ?", runID); err != nil {
		return err
	}
	for _, t := range targets {
		if _, err := db.ExecContext(ctx, "INSERT INTO ferry.run_databases (run_id, sha256, database_name, created) VALUES (?, ?, ?, ?)",
			runID, digest, t.name, t.created()); err != nil {
			return err
		}
	}
	return nil
}
