// Package dump takes a consistent online dump of the source databases: PARALLELISM data streams
// and one of definitions, each a child dump tool whose snapshot is opened under one brief global
// read lock, compressed and stored in chunks (package chunks), the digests of every object taken
// in the same snapshot (package digest), and a manifest written LAST. A dump that did not finish
// leaves no manifest, and the import refuses a run without one.
package dump

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ferry.local/dataplane/internal/child"
	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/deadline"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/heldlock"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
	"ferry.local/dataplane/internal/preflight"
	"ferry.local/dataplane/internal/progress"
	"ferry.local/dataplane/internal/seal"
	"ferry.local/dataplane/internal/sockets"
	"ferry.local/dataplane/internal/sqlident"
)

// Options are the dump's settings, read and checked by the caller.
type Options struct {
	RunID       string
	Databases   []string
	Compression string
	Parallelism int
	// ChunkBytes is the compressed size at which a chunk is cut (at the next line's end).
	ChunkBytes int64
	// ProgressEvery is the interval of the progress lines.
	ProgressEvery time.Duration
	// SnapshotWait bounds the wait for a stream's dump tool to open its snapshot.
	SnapshotWait time.Duration
	// SourceWait bounds the wait for a source that does not accept connections yet.
	SourceWait time.Duration
	// Stall is how long an upload may take no data before it is abandoned.
	Stall time.Duration
	// RunKey seals every object the dump stores (package seal); required.
	RunKey *seal.Key
	Source conn.Settings
	Store  *objstore.Store
	// DumpTool is mariadb-dump or mysqldump.
	DumpTool string
	// Physical copies the source's data files (BackupTool, mariadb-backup) instead of dumping
	// SQL: see physical.go.
	Physical   bool
	BackupTool string
	Log        func(format string, args ...any)
}

// Run dumps and returns the manifest written. A complete dump of the run from the same source and
// databases is kept; one of another source or other databases is refused, as a run id names one
// dump.
func Run(ctx context.Context, o Options) (manifest.Manifest, error) {
	if o.RunKey == nil {
		return manifest.Manifest{}, errors.New("the dump needs the run's key: nothing is stored unsealed")
	}
	work, err := os.MkdirTemp("", "ferry-dump-")
	if err != nil {
		return manifest.Manifest{}, err
	}
	defer os.RemoveAll(work)
	d := &dumper{Options: o, work: work, cancel: func() {}, pendingIndexes: map[string]manifest.Index{}}
	m, err := d.run(ctx)
	if err != nil {
		// A stream's failure is the cause of whatever the dump was doing when it was stopped.
		if cause := d.firstFailure(); cause != nil {
			err = cause
		}
		if ctx.Err() != nil {
			// SIGTERM or SIGINT: what stopped the streams is the signal.
			err = errors.New(deadline.Stopped("the dump") + "; it wrote no manifest, so nothing of it is ever imported")
		} else if !d.connected.IsZero() {
			// Whichever session noticed first, a source that went away is the cause, not what that
			// session was doing.
			if lost := d.sourceLost(); lost != "" {
				err = fmt.Errorf("%s: the dump is incomplete and wrote no manifest, so nothing of it is imported; run pulumi up again once the source is up, and the run dumps again from a new snapshot (what the dump saw: %v)", lost, err)
			}
		}
		d.markFailed(err)
		d.logLeft()
	}
	return m, err
}

type dumper struct {
	Options
	work string
	db   *sql.DB
	// connected is when the source first answered; zero if it never did.
	connected time.Time
	stored    sync.Map // keys written by this dump, counted when it fails
	// attempt is this dump's statement of itself (manifest.Attempt), stored once the source has
	// passed the dump's checks, and again with its streams once the snapshot is open. No stream's
	// index is stored before that: one told earlier waits in pendingIndexes (a stream may end under
	// the global lock, and must not wait for what comes after it).
	attempt       manifest.Attempt
	indexMu       sync.Mutex
	attemptStored bool
	streamsStated bool
	// copyIndex is a physical copy's index once stored (copyIndexed): a failure after it is said
	// there, so a restore that follows the copy stops at once.
	copyIndex      manifest.Index
	copyIndexed    bool
	pendingIndexes map[string]manifest.Index
	// The first stream to fail stops the others: its error is the cause, theirs consequences.
	mu      sync.Mutex
	failure error
	cancel  func()
}

func (d *dumper) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failure == nil {
		d.failure = err
		d.cancel()
		// Said at once: the streams may take a while to stop when the store is the fault.
		d.Log("stopping the dump: %v", err)
	}
}

func (d *dumper) firstFailure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failure
}

// sourceLost says whether the source went away after the dump had connected, asked in a pool of
// its own (the dump's is closed by now): a server that no longer answers, or one whose uptime is
// shorter than the time since the dump connected (it restarted, and every snapshot of the dump
// went with it). "" when it stayed up.
func (d *dumper) sourceLost() string {
	where := net.JoinHostPort(d.Source.Host, d.Source.Port)
	db, err := conn.Open(d.Source)
	if err != nil {
		return ""
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name string
	var uptime int64
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Uptime'").Scan(&name, &uptime); err != nil {
		return fmt.Sprintf("the source server at %s stopped answering during the dump (%v)", where, err)
	}
	if since := time.Since(d.connected); time.Duration(uptime)*time.Second < since {
		return fmt.Sprintf("the source server at %s restarted during the dump (up %ds, the dump began %.0fs ago)", where, uptime, since.Seconds())
	}
	return ""
}

// connect opens the pool and waits, up to SourceWait, for a source that refuses connections (a
// pod still starting); a refused login fails at once.
func (d *dumper) connect(ctx context.Context) (string, error) {
	db, err := conn.Open(d.Source)
	if err != nil {
		return "", err
	}
	d.db = db
	d.Log("connecting to %s:%s as %s", d.Source.Host, d.Source.Port, d.Source.User)
	started := time.Now()
	for {
		var version string
		err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version)
		if err == nil {
			return version, nil
		}
		explained := conn.Explain(err, "the source database", "ferry:source")
		if conn.Lasting(err) || ctx.Err() != nil || time.Since(started) >= d.SourceWait {
			return "", errors.New(explained)
		}
		d.Log("waiting for the source database (%.0fs): %s", time.Since(started).Seconds(), explained)
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

func (d *dumper) databaseArgs() []any {
	args := make([]any, len(d.Databases))
	for i, name := range d.Databases {
		args[i] = name
	}
	return args
}

func (d *dumper) run(ctx context.Context) (manifest.Manifest, error) {
	m := manifest.Manifest{Format: manifest.Format, RunID: d.RunID, Compression: d.Compression,
		Databases: d.Databases, StartedAt: now(), Compressor: chunks.Compressor(d.Compression)}
	version, err := d.connect(ctx)
	if err != nil {
		return m, err
	}
	d.connected = time.Now()
	defer d.db.Close()
	m.ServerVersion = version
	if m.Source, err = d.identify(ctx); err != nil {
		return m, fmt.Errorf("cannot read the source's identity: %v", err)
	}
	existing, err := d.Store.ReadAll(ctx, manifest.Key(d.RunID))
	switch {
	case err == nil:
		// ferry draws a new run key whenever the dump would run again, so a manifest under another
		// key is of an older dump of this run id (or put there by someone else): never kept, never
		// imported, dumped over.
		opened, err := seal.OpenBytes(*d.RunKey, manifest.Key(d.RunID), existing)
		if err != nil {
			d.Log("run %s holds a dump sealed under another key (an earlier dump of this run id, made before its source, bucket or settings changed); dumping again over it", d.RunID)
			break
		}
		kept, err := manifest.Parse(opened)
		if err != nil {
			return m, fmt.Errorf("run %s has a manifest this version of ferry cannot read (%v); set ferry:migration.runId to a new run id", d.RunID, err)
		}
		if kept.Source != m.Source || strings.Join(kept.Databases, "\x00") != strings.Join(d.Databases, "\x00") {
			return m, fmt.Errorf("run %s already holds a dump of databases %q from %s, not of %q from %s: a run id names one dump. Set ferry:migration.runId to a new run id to migrate this source",
				d.RunID, kept.Databases, kept.Source, d.Databases, m.Source)
		}
		d.Log("run %s already has a complete dump of these databases from this source; keeping it", d.RunID)
		return kept, nil
	case !objstore.IsNotFound(err):
		return m, fmt.Errorf("cannot read %s: %v; check ferry:objectStore", d.Store.URL(manifest.Key(d.RunID)), err)
	}
	// Two dumps of one run would race for the same objects: the second one stops here. The lock is
	// kept for the whole dump; if it is lost anyway, the dump stops without a manifest.
	lock, held, err := heldlock.Acquire(ctx, d.db, "ferry-dump-"+d.RunID, 5*time.Second)
	if err != nil {
		return m, err
	}
	if !held {
		return m, fmt.Errorf("another dump of run %s is in progress on this source; wait for it to finish (its manifest then makes this run a no-op)", d.RunID)
	}
	defer lock.Release()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-lock.Lost():
			d.fail(fmt.Errorf("the dump stopped: %v; another dump of run %s may have begun beside it. Run pulumi up again", lock.Err(), d.RunID))
		case <-finished:
		}
	}()
	// Without a manifest, whatever is stored under the run's prefix is what a failed dump left. The
	// dump's credential cannot delete: this dump writes over those objects, and the run's cleanup
	// removes any it does not.
	if leftovers, err := d.Store.Keys(ctx, manifest.Prefix(d.RunID)); err != nil {
		return m, fmt.Errorf("cannot list s3://%s/%s: %v; check ferry:objectStore", d.Store.Bucket, manifest.Prefix(d.RunID), err)
	} else if len(leftovers) > 0 {
		d.Log("%d objects of an earlier, unfinished dump of run %s are stored; they are written over, and the run's cleanup removes the rest", len(leftovers), d.RunID)
	}
	for _, database := range d.Databases {
		var found int
		if err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", database).Scan(&found); err != nil {
			return m, err
		}
		if found != 1 {
			return m, fmt.Errorf("database %q does not exist on the source; fix ferry:source.databases", database)
		}
	}
	if d.Physical {
		// A copy of the data files carries every value exactly as stored: no refusal of values a
		// dump tool would change.
		return d.backup(ctx, m)
	}
	// Values the dump tool would change are refused now, naming each column, before anything is
	// written.
	problems, err := preflight.InexactFloats(ctx, d.db, d.Databases)
	if err != nil {
		return m, err
	}
	for _, problem := range problems {
		d.Log("refused: %s", problem)
	}
	if len(problems) > 0 {
		return m, fmt.Errorf("the source cannot be dumped exactly as it is: %d thing(s) the dump cannot carry (above); nothing was written", len(problems))
	}
	flags, toolVersion, err := d.dumpFlags(ctx)
	if err != nil {
		return m, err
	}
	m.DumpTool = toolVersion
	options := filepath.Join(d.work, "source.cnf")
	text, err := conn.ClientOptions(d.Source, conn.FlavorOf(toolVersion))
	if err != nil {
		return m, fmt.Errorf("SOURCE: %w", err)
	}
	if err := os.WriteFile(options, []byte(text), 0o600); err != nil {
		return m, err
	}

	// Stated once the checks that refuse a source have passed (a refused dump writes nothing) and
	// before the snapshot: an import started beside the dump sees it begin, and every failure from
	// here on is marked on it (markFailed), so the import stops at once rather than wait for a dump
	// that will never state anything. The same checks ran in the dump's preflight, before the
	// import started.
	if err := d.stateAttempt(ctx); err != nil {
		return m, d.uploadFailure(err)
	}

	// The snapshot session: under a brief global read lock it opens a consistent snapshot and reads
	// the binlog position, then holds the lock until every dump stream and digest session has opened
	// its own snapshot, so all of them describe exactly the same rows.
	snapshot, err := d.db.Conn(ctx)
	if err != nil {
		return m, err
	}
	defer snapshot.Close()
	var snapshotID int64
	if err := snapshot.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&snapshotID); err != nil {
		return m, err
	}
	if _, err := snapshot.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		if strings.Contains(err.Error(), "RELOAD") {
			return m, errors.New("the source user lacks the RELOAD privilege, which a consistent snapshot needs: GRANT RELOAD, PROCESS ON *.* TO the user in ferry:source.user")
		}
		return m, fmt.Errorf("cannot take a consistent snapshot: %v", err)
	}
	lockedAt := time.Now()
	locked := true
	unlock := func() {
		if locked {
			_, _ = snapshot.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES")
			locked = false
		}
	}
	defer unlock()
	for _, statement := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"} {
		if _, err := snapshot.ExecContext(ctx, statement); err != nil {
			return m, fmt.Errorf("cannot take a consistent snapshot: %v", err)
		}
	}
	m.GTID, m.BinlogFile, m.BinlogPosition = binlogPosition(ctx, snapshot)
	d.Log("snapshot open under a global read lock (binlog %s %s; gtid %s)", orNone(m.BinlogFile, "off"), m.BinlogPosition, orNone(m.GTID, "none"))

	// The lock also stops DDL, so the table list read now is the one every stream will see.
	tables, foreignKeys, err := d.listTables(ctx, snapshot)
	if err != nil {
		return m, fmt.Errorf("cannot list the source tables: %v", err)
	}
	plan := Plan(tables, foreignKeys, d.Parallelism)
	// A table of an engine without transactions (MyISAM, Aria, MEMORY...) is not in anyone's
	// snapshot: a write to it after the lock is released would reach the dump, the digests, both
	// or neither. It stays read-locked, from under the global lock until every stream and digest
	// has read it.
	// Under the global read lock no writer holds a table open: the lock that lets the streams' reads
	// past waiting writers can be taken (heldlock.ReadLockTables).
	tableLock, err := d.readLockUnversioned(ctx, tables, true)
	if err != nil {
		return m, err
	}
	if tableLock != nil {
		defer tableLock.Release()
	}
	var estimate int64
	for _, t := range tables {
		estimate += t.Bytes
	}

	// The digests of every object are taken in sessions of their own, each with a snapshot opened
	// under the lock like the dump's; every definition is read before the lock is released.
	attributed := map[int64]bool{}
	digestSessions, err := conn.OpenSnapshots(ctx, d.db, max(1, len(plan)-1), func(id int64) { attributed[id] = true })
	defer conn.CloseAll(digestSessions)
	if err != nil {
		return m, fmt.Errorf("digesting the source's objects: %v", conn.Explain(err, "the source database", "ferry:source"))
	}
	objects, err := digest.Catalog(ctx, digestSessions[0], d.Databases)
	if err != nil {
		return m, fmt.Errorf("digesting the source's objects: %v", err)
	}

	ext, err := chunks.Extension(d.Compression)
	if err != nil {
		return m, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.cancel = cancel
	d.Log("dumping %s in %d data stream(s) and one of definitions to s3://%s/%s (%s)", strings.Join(d.Databases, " "), len(plan)-1, d.Store.Bucket, manifest.Prefix(d.RunID), d.Compression)
	started := time.Now()
	byPort := portsVisible(ctx, snapshot)
	if !byPort {
		d.Log("warning: the source sees this machine's sessions under other client ports (address translation between them): the dump's own sessions are told from other sessions of %s by when they open, so no other client should use that account during the dump", d.Source.User)
	}
	streams := make([]*stream, len(plan))
	opened := func(s *stream, opening time.Time) error {
		if err := d.waitForSnapshot(ctx, s, snapshotID, attributed, byPort); err != nil {
			return err
		}
		d.Log("stream %s has opened its snapshot (%.1fs)", s.name, time.Since(opening).Seconds())
		return nil
	}
	opening := time.Now()
	for i, planned := range plan {
		args := append([]string{"--defaults-file=" + options}, flags...)
		if planned.Name == manifest.Definitions {
			args = append(args, "--routines", "--events", "--skip-triggers")
		} else {
			args = append(args, "--triggers")
		}
		args = append(args, IgnoreArguments(plan, planned.Name)...)
		// "--" ends the options: a database named like an option is still a name.
		args = append(append(args, "--databases", "--"), d.Databases...)
		if !byPort {
			opening = time.Now()
		}
		s, err := d.start(ctx, planned.Name, args, ext)
		if err != nil {
			return m, err
		}
		streams[i] = s
		// A session told by when it opens, not by its port, is the stream's only if the stream
		// is the one opening: each then waits for its snapshot before the next starts.
		if !byPort {
			if err := opened(s, opening); err != nil {
				return m, err
			}
		}
	}
	// Told by their ports, the streams open their snapshots side by side: the writes the global
	// read lock holds wait for the slowest stream, not for all of them one after the other.
	if byPort {
		for _, s := range streams {
			if err := opened(s, opening); err != nil {
				return m, err
			}
		}
	}
	unlock()
	if _, err := snapshot.ExecContext(ctx, "COMMIT"); err != nil {
		return m, err
	}
	d.Log("writes on the source released after %dms under the global read lock; the streams and the digests go on in the snapshot", time.Since(lockedAt).Milliseconds())
	if err := d.stateStreams(ctx, plan); err != nil {
		return m, d.uploadFailure(err)
	}
	m.Attempt = d.attempt.ID

	stopProgress := progress.Every(d.ProgressEvery, func() {
		var done int64
		for _, s := range streams {
			done += s.writer.SQL.Load()
		}
		d.Log("%s", progress.Line("dump", done, estimate, started, "total=estimated-from-table-sizes"))
	})
	rowKey, err := digest.RowKeyFrom(*d.RunKey)
	if err != nil {
		return m, err
	}
	digested := make(chan error, 1)
	go func() {
		digested <- digest.Contents(ctx, rowKey, digestSessions, objects, digest.Progress(d.Log, objects))
	}()
	for _, s := range streams {
		<-s.done
	}
	stopProgress()
	if err := d.firstFailure(); err != nil {
		return m, err
	}
	d.Log("all streams stored; waiting for the digests")
	if err := <-digested; err != nil {
		return m, fmt.Errorf("digesting the source's objects failed: %v", err)
	}
	if tableLock != nil {
		if err := tableLock.Confirm(ctx); err != nil {
			return m, fmt.Errorf("the tables without transactions may have changed during the dump: %v. Run pulumi up again", err)
		}
		tableLock.Release()
		d.Log("the tables without transactions are read and released")
	}
	m.SetDigests(objects)
	for _, s := range streams {
		m.Streams = append(m.Streams, s.result)
		m.Bytes += s.result.Bytes
		m.SQLBytes += s.result.SQLBytes
	}
	// The manifest makes the dump importable: not once the run's lock was lost.
	if err := d.firstFailure(); err != nil {
		return m, err
	}
	if err := d.storeManifest(ctx, &m, "dump"); err != nil {
		return m, err
	}
	sealing, _ := seal.Spent()
	d.Log("done: %d tables in %d data stream(s), %d bytes of SQL, %d bytes stored in %d chunks; sealing them took %.2fs of CPU", m.TableCount, len(plan)-1, m.SQLBytes, m.Bytes, len(m.Objects()), sealing.Seconds())
	return m, nil
}

// storeManifest stores the manifest, sealed, last: what makes the run's dump (or copy, what)
// importable.
func (d *dumper) storeManifest(ctx context.Context, m *manifest.Manifest, what string) error {
	m.FinishedAt = now()
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if data, err = seal.Bytes(*d.RunKey, manifest.Key(d.RunID), data); err != nil {
		return err
	}
	if _, err := d.Store.Put(ctx, manifest.Key(d.RunID), bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("the %s is stored but its manifest could not be written (%v); run the dump again", what, err)
	}
	return nil
}

// readLockUnversioned read-locks the tables whose engine keeps no versions for a snapshot (every
// engine but InnoDB), in a session of its own, and says which; nil when there are none. A lost
// lock stops the dump.
func (d *dumper) readLockUnversioned(ctx context.Context, tables []Table, flush bool) (*heldlock.Lock, error) {
	var locked [][2]string
	var names []string
	for _, t := range tables {
		if !t.View && !strings.EqualFold(t.Engine, "InnoDB") {
			locked = append(locked, [2]string{t.Database, t.Name})
			names = append(names, fmt.Sprintf("%s (%s)", sqlident.Qualified(t.Database, t.Name), orNone(t.Engine, "no engine")))
		}
	}
	if len(locked) == 0 {
		return nil, nil
	}
	lock, err := heldlock.ReadLockTables(ctx, d.db, locked, 10*time.Second, flush)
	if err != nil {
		return nil, fmt.Errorf("cannot read-lock the tables without transactions for the dump (%s): %v. The source user needs RELOAD and LOCK TABLES on them; or convert them: ALTER TABLE ... ENGINE=InnoDB", strings.Join(names, ", "), err)
	}
	d.Log("%d table(s) without transactions are read-locked until the dump has read them; writes to them wait until then: %s", len(locked), strings.Join(names, ", "))
	go func() {
		select {
		case <-lock.Lost():
			d.fail(fmt.Errorf("the dump stopped: %v; the tables without transactions may have changed during the dump. Run pulumi up again", lock.Err()))
		case <-lock.Released():
		}
	}()
	return lock, nil
}

// identify reads what the server says of itself (MySQL also has a server_uuid; MariaDB has not).
func (d *dumper) identify(ctx context.Context) (manifest.Source, error) {
	source := manifest.Source{Host: d.Source.Host, Port: d.Source.Port}
	err := d.db.QueryRowContext(ctx, "SELECT @@hostname, @@port, @@server_id").Scan(&source.Hostname, &source.ServerPort, &source.ServerID)
	if err != nil {
		return source, err
	}
	var uuid sql.NullString
	if d.db.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&uuid) == nil {
		source.ServerUUID = uuid.String
	}
	return source, nil
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05Z") }

func orNone(value, none string) string {
	if value == "" {
		return none
	}
	return value
}

// binlogPosition reads the GTID position and binary log coordinates; each server knows only some
// of these, and a server without a binary log has none.
func binlogPosition(ctx context.Context, session *sql.Conn) (gtid, file, position string) {
	for _, variable := range []string{"@@GLOBAL.gtid_binlog_pos", "@@GLOBAL.gtid_executed"} {
		var value sql.NullString
		if session.QueryRowContext(ctx, "SELECT "+variable).Scan(&value) == nil && value.String != "" {
			gtid = value.String
			break
		}
	}
	rows, err := session.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return gtid, "", ""
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil || len(columns) < 2 || !rows.Next() {
		return gtid, "", ""
	}
	values := make([]sql.NullString, len(columns))
	pointers := make([]any, len(columns))
	for i := range values {
		pointers[i] = &values[i]
	}
	if rows.Scan(pointers...) != nil {
		return gtid, "", ""
	}
	return gtid, values[0].String, values[1].String
}

func (d *dumper) listTables(ctx context.Context, session *sql.Conn) ([]Table, []ForeignKey, error) {
	in, _ := sqlident.InList(d.Databases)
	args := append(d.databaseArgs(), d.databaseArgs()...)
	rows, err := session.QueryContext(ctx, `SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.TABLE_TYPE = 'VIEW', COALESCE(t.ENGINE, ''),
	    COALESCE(t.DATA_LENGTH, 0) + COALESCE(t.INDEX_LENGTH, 0),
	    COALESCE(t.TABLE_ROWS, 0) * (1 + 0.77 * COALESCE(i.secondary, 0)) + COALESCE(t.DATA_LENGTH, 0) / 150 + 1
	  FROM information_schema.TABLES t
	  LEFT JOIN (SELECT TABLE_SCHEMA, TABLE_NAME, COUNT(DISTINCT INDEX_NAME) AS secondary
	    FROM information_schema.STATISTICS WHERE INDEX_NAME <> 'PRIMARY' AND TABLE_SCHEMA IN `+in+`
	    GROUP BY TABLE_SCHEMA, TABLE_NAME) i ON i.TABLE_SCHEMA = t.TABLE_SCHEMA AND i.TABLE_NAME = t.TABLE_NAME
	  WHERE t.TABLE_SCHEMA IN `+in+` ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME`, args...)
	if err != nil {
		return nil, nil, err
	}
	var tables []Table
	for rows.Next() {
		var t Table
		if err := rows.Scan(&t.Database, &t.Name, &t.View, &t.Engine, &t.Bytes, &t.Cost); err != nil {
			rows.Close()
			return nil, nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = session.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME
	  FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN `+in+``, d.databaseArgs()...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var keys []ForeignKey
	for rows.Next() {
		var k ForeignKey
		if err := rows.Scan(&k.Database, &k.Table, &k.ParentDatabase, &k.ParentTable); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	return tables, keys, rows.Err()
}

// dumpFlags asks the tool which flags it takes (MySQL's and MariaDB's differ), not its version.
func (d *dumper) dumpFlags(ctx context.Context) ([]string, string, error) {
	help, err := exec.CommandContext(ctx, d.DumpTool, "--help").Output()
	if err != nil {
		return nil, "", fmt.Errorf("the dump tool %s cannot run: %v", d.DumpTool, err)
	}
	version, _ := exec.CommandContext(ctx, d.DumpTool, "--version").Output()
	// --skip-add-locks: no LOCK TABLES before a table's rows. The lock would hold the database's
	// metadata lock for the whole table on the destination, so another stream's CREATE DATABASE IF
	// NOT EXISTS for the same database waited until those rows were all in (seen for 7 s in bench/'s
	// import); each INSERT commits on its own either way.
	flags := []string{"--single-transaction", "--quick", "--hex-blob", "--default-character-set=utf8mb4", "--max-allowed-packet=1G", "--skip-add-locks"}
	for _, optional := range []struct{ probe, flag string }{
		{"column-statistics", "--column-statistics=0"},
		{"set-gtid-purged", "--set-gtid-purged=OFF"},
		{"no-tablespaces", "--no-tablespaces"},
		// System-versioned tables keep their history (MariaDB 10.11+); the verification reads it too.
		{"dump-history", "--dump-history"},
	} {
		if bytes.Contains(help, []byte(optional.probe)) {
			flags = append(flags, optional.flag)
		}
	}
	return flags, strings.TrimSpace(strings.SplitN(string(version), "\n", 2)[0]), nil
}

// waitForSnapshot waits until the stream's dump tool holds an open transaction: the first
// connection of the source user, newer than the snapshot session, not yet attributed to a digest
// session or an earlier stream. A stream that ended before it was seen had opened its snapshot
// under the lock all the same; its connection is let close, so the next stream's is not taken
// for it.
func (d *dumper) waitForSnapshot(ctx context.Context, s *stream, snapshotID int64, attributed map[int64]bool, byPort bool) error {
	deadline := time.Now().Add(d.SnapshotWait)
	for {
		transactions, err := d.dumpTransactions(ctx, snapshotID)
		if err != nil {
			return err
		}
		// The stream's own session is the one on a port its dump tool holds: another client of the
		// same user opening a transaction meanwhile is not taken for it.
		var tool map[int]bool
		if byPort && s.cmd.Process != nil {
			tool, _ = sockets.LocalPorts(s.cmd.Process.Pid)
		}
		var fresh []int64
		for _, t := range transactions {
			if !attributed[t.id] && (!byPort || tool[sockets.Port(t.host)]) {
				fresh = append(fresh, t.id)
			}
		}
		if len(fresh) > 0 && !s.ended() {
			for _, id := range fresh {
				attributed[id] = true
			}
			return nil
		}
		if s.ended() {
			if len(fresh) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the dump stream %s did not open its snapshot within %s", s.name, d.SnapshotWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		// InnoDB refreshes its INNODB_TRX table only when it was last read over 100 ms ago: a
		// faster poll would read the same stale list for as long as it kept polling.
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// transaction is a session of the dump's user with an open transaction, and its client address.
type transaction struct {
	id   int64
	host string
}

func (d *dumper) dumpTransactions(ctx context.Context, snapshotID int64) ([]transaction, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT t.trx_mysql_thread_id, p.HOST FROM information_schema.INNODB_TRX t
	  JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
	  WHERE p.ID > ? AND p.ID <> CONNECTION_ID() AND p.USER = ?`, snapshotID, d.Source.User)
	if err != nil {
		// Only a refusal is about the privilege; a lost connection is the server's (Run says so).
		if strings.Contains(err.Error(), "denied") {
			return nil, fmt.Errorf("cannot watch the dump's transactions (the source user needs PROCESS): %v", err)
		}
		return nil, fmt.Errorf("cannot watch the dump's transactions: %v", err)
	}
	defer rows.Close()
	var found []transaction
	for rows.Next() {
		var t transaction
		if err := rows.Scan(&t.id, &t.host); err != nil {
			return nil, err
		}
		found = append(found, t)
	}
	return found, rows.Err()
}

// portsVisible says whether the source sees this machine's sessions under the client ports they
// hold here (no address translation between): only then can a session be known by its port.
func portsVisible(ctx context.Context, session *sql.Conn) bool {
	var host string
	if err := session.QueryRowContext(ctx, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&host); err != nil {
		return false
	}
	ports, err := sockets.LocalPorts(os.Getpid())
	return err == nil && ports[sockets.Port(host)]
}

// stream is one running dump tool whose output is stored in chunks.
type stream struct {
	name   string
	cmd    *exec.Cmd
	writer *chunks.Writer
	stderr child.Tail
	done   chan struct{}
	err    error
	result manifest.Stream
}

func (s *stream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (d *dumper) start(ctx context.Context, name string, args []string, ext string) (*stream, error) {
	s := &stream{name: name, done: make(chan struct{})}
	writer, err := chunks.NewWriter(ctx, recordingStore{d}, d.Compression, d.ChunkBytes, d.Stall, d.RunKey, func(i int) string {
		return fmt.Sprintf("%s%s/%06d.sql.%s", manifest.Prefix(d.RunID), name, i, ext)
	})
	if err != nil {
		return nil, d.uploadFailure(err)
	}
	writer.Stored = func(stored []manifest.Chunk, longestLine int64) error {
		return d.storeIndex(ctx, name, stored, longestLine)
	}
	s.writer = writer
	cmd := exec.CommandContext(ctx, d.DumpTool, args...)
	// The child inherits no secret: the source password is in its option file only, and the
	// environment's were removed when they were read.
	cmd.Env = os.Environ()
	cmd.Stderr = &s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		writer.Abort(err)
		return nil, fmt.Errorf("cannot start %s: %v", d.DumpTool, err)
	}
	s.cmd = cmd
	go func() {
		defer close(s.done)
		defer func() {
			if s.err != nil {
				d.fail(s.err)
			}
		}()
		_, copyErr := io.Copy(writer, stdout)
		if copyErr != nil {
			// The store failed: the dump tool gets nothing more read and is stopped.
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, stdout)
		}
		waitErr := cmd.Wait()
		var upload *chunks.UploadError
		switch {
		case errors.As(copyErr, &upload):
			s.err = d.uploadFailure(copyErr)
		case copyErr != nil:
			s.err = fmt.Errorf("the %s stream failed: %v", name, copyErr)
		case waitErr != nil:
			s.err = fmt.Errorf("the dump (%s stream) failed (exit %d): %s", name, child.ExitStatus(waitErr), s.stderr.LastLines(3))
		}
		if s.err != nil {
			writer.Abort(s.err)
			return
		}
		stored, err := writer.Close()
		if err != nil {
			s.err = d.uploadFailure(err)
			return
		}
		s.result = manifest.NewStream(name, stored)
		s.result.LongestLine = writer.LongestLine()
	}()
	return s, nil
}

// stateAttempt draws this dump's attempt id and states it, with its databases but no streams
// yet, at manifest.AttemptKey: an import that follows the dump follows this attempt only, and
// waits for its streams.
func (d *dumper) stateAttempt(ctx context.Context) error {
	id, err := manifest.NewAttemptID()
	if err != nil {
		return err
	}
	d.indexMu.Lock()
	defer d.indexMu.Unlock()
	d.attempt = manifest.Attempt{Format: manifest.AttemptFormat, RunID: d.RunID, ID: id, Databases: d.Databases,
		Compression: d.Compression, StartedAt: now()}
	if err := d.putSealed(ctx, manifest.AttemptKey(d.RunID), manifest.AttemptKey(d.RunID), d.attempt); err != nil {
		return &chunks.UploadError{Key: manifest.AttemptKey(d.RunID), Err: err}
	}
	d.attemptStored = true
	return nil
}

// stateStreams states the attempt again with its streams, once the snapshot is open, then the
// indexes told before it.
func (d *dumper) stateStreams(ctx context.Context, plan []Stream) error {
	names := make([]string, len(plan))
	for i, s := range plan {
		names[i] = s.Name
	}
	d.indexMu.Lock()
	defer d.indexMu.Unlock()
	d.attempt.Streams = names
	if err := d.putSealed(ctx, manifest.AttemptKey(d.RunID), manifest.AttemptKey(d.RunID), d.attempt); err != nil {
		return &chunks.UploadError{Key: manifest.AttemptKey(d.RunID), Err: err}
	}
	d.streamsStated = true
	for stream, index := range d.pendingIndexes {
		index.Attempt = d.attempt.ID
		if err := d.putIndex(ctx, stream, index); err != nil {
			return err
		}
	}
	d.pendingIndexes = nil
	return nil
}

// storeIndex states the chunks stream has stored so far, sealed under this attempt's label, or
// keeps them for stateStreams while the attempt's streams are not stated yet.
func (d *dumper) storeIndex(ctx context.Context, stream string, stored []manifest.Chunk, longestLine int64) error {
	index := manifest.Index{Format: manifest.AttemptFormat, Stream: stream,
		Chunks: append([]manifest.Chunk(nil), stored...), LongestLine: longestLine}
	d.indexMu.Lock()
	defer d.indexMu.Unlock()
	if !d.streamsStated {
		d.pendingIndexes[stream] = index
		return nil
	}
	index.Attempt = d.attempt.ID
	return d.putIndex(ctx, stream, index)
}

func (d *dumper) putIndex(ctx context.Context, stream string, index manifest.Index) error {
	key := manifest.IndexKey(d.RunID, stream)
	if err := d.putSealed(ctx, key, manifest.IndexLabel(d.RunID, stream, index.Attempt), index); err != nil {
		return &chunks.UploadError{Key: key, Err: err}
	}
	return nil
}

// markFailed states that this attempt stopped without a manifest, and why, so that an import
// following it stops at once rather than when it has waited long enough. Best effort: a store
// that is the failure may refuse this too, and the follower's wait then ends it.
func (d *dumper) markFailed(cause error) {
	d.indexMu.Lock()
	stored := d.attemptStored
	copyIndexed := d.copyIndexed
	d.indexMu.Unlock()
	if copyIndexed {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		failed := d.copyIndex
		failed.Failed = cause.Error()
		if err := d.putIndex(ctx, manifest.Physical, failed); err != nil {
			d.Log("could not mark the copy's index failed in the store (%v); a restore following it stops when it has waited long enough", err)
		}
	}
	if !stored {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := d.attempt
	failed.Failed = cause.Error()
	if err := d.putSealed(ctx, manifest.AttemptKey(d.RunID), manifest.AttemptKey(d.RunID), failed); err != nil {
		d.Log("could not mark attempt %s failed in the store (%v); an import following it stops when it has waited long enough", d.attempt.ID, err)
	}
}

// putSealed stores value as JSON, sealed with the run key under label.
func (d *dumper) putSealed(ctx context.Context, key, label string, value any) error {
	data, err := json.Marshal(value)
	if err != nil {
		return err
	}
	if data, err = seal.Bytes(*d.RunKey, label, data); err != nil {
		return err
	}
	d.stored.Store(key, true)
	_, err = d.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
	return err
}

// recordingStore notes each key a chunk is stored under, so a failed dump removes them all.
// uploadFailure says which upload failed, by its URL, when err is a chunk's upload error.
func (d *dumper) uploadFailure(err error) error {
	var upload *chunks.UploadError
	if errors.As(err, &upload) {
		return fmt.Errorf("the upload to %s failed: %v", d.Store.URL(upload.Key), upload.Err)
	}
	return err
}

type recordingStore struct{ d *dumper }

func (r recordingStore) Put(ctx context.Context, key string, body io.Reader, size int64) (int64, error) {
	r.d.stored.Store(key, true)
	return r.d.Store.Put(ctx, key, body, size)
}

// logLeft says what a failed dump leaves: its credential may write but not delete, so its chunks
// stay, sealed and named by no manifest, until the run's cleanup or the bucket's expiry rule.
func (d *dumper) logLeft() {
	left := 0
	d.stored.Range(func(_, _ any) bool { left++; return true })
	if left > 0 {
		d.Log("the failed dump leaves %d sealed objects (chunks and the indexes that list them) under s3://%s/%s and no manifest: no import reads them, and the run's cleanup (after a dump that completes) or the bucket's expiry rule removes them", left, d.Store.Bucket, manifest.Prefix(d.RunID))
	}
}
