// Package load imports a run's dump into the destination: it waits for the server, takes the
// destination's import lock, refuses a non-empty target unless told to overwrite, feeds each stream
// (package chunks checks every chunk before a byte of it is used) through the rewrite into its own
// client session, the data streams side by side and the definitions last, and records the run in
// ferry.runs. A failed import drops the databases its dump created, never one that existed before.
package load

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferry.local/dataplane/internal/child"
	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/deadline"
	"ferry.local/dataplane/internal/heldlock"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
	"ferry.local/dataplane/internal/progress"
	"ferry.local/dataplane/internal/seal"
	"ferry.local/dataplane/internal/sqlident"
)

// Options are the import's settings, read and checked by the caller.
type Options struct {
	// Manifest is the complete dump's; unused when Follow is set.
	Manifest manifest.Manifest
	// Follow, when set, is a running dump's attempt the import follows (see following).
	Follow    *Follow
	Overwrite bool
	// Stack names the Pulumi stack that runs the import (project/stack); "" when run by hand.
	Stack       string
	Rewrite     Rewrite
	WriteBinlog bool
	// Settings are raised on the destination while the import runs and put back after it
	// (ImportSettings); none when nil.
	Settings []Setting
	Wait     time.Duration
	// Patience: how long a broken download is resumed without receiving a byte (chunks.Fetcher).
	Patience      time.Duration
	Stall         time.Duration
	ProgressEvery time.Duration
	// RunKey opens the run's sealed chunks (package seal); required.
	RunKey      *seal.Key
	Destination conn.Settings
	Store       *objstore.Store
	// Client is the mariadb or mysql client the SQL is fed to.
	Client string
	Log    func(format string, args ...any)
}

// The states of a live run after its import (ferry.runs.state): the destination replicates from
// the source, then takes the writes itself.
const (
	StateReplicating = "replicating"
	StateCutOver     = "cut over"
)

// Digest is the run's one digest in ferry.runs: the sha256 of every chunk's sha256, in manifest
// order. A run imported with the same digest is not imported again.
func Digest(m manifest.Manifest) string {
	hash := sha256.New()
	for _, s := range m.Streams {
		for _, c := range s.Chunks {
			fmt.Fprintln(hash, c.SHA256)
		}
	}
	return hex.EncodeToString(hash.Sum(nil))
}

// Run imports; a problem is returned as the sentence the step fails with.
func Run(ctx context.Context, o Options) error {
	if o.RunKey == nil {
		return errors.New("the import needs the run's key: nothing unsealed is read")
	}
	work, err := os.MkdirTemp("", "ferry-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	db, err := conn.Open(o.Destination)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := waitFor(ctx, db, o); err != nil {
		return err
	}
	// The rewrite reads executable comments as this server does: it runs those of its version.
	var serverVersion string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&serverVersion); err != nil {
		return err
	}
	if o.Rewrite.ServerVersion, err = VersionNumber(serverVersion); err != nil {
		return err
	}
	// One import at a time into a destination: two would judge each other's tables as "not empty".
	// The lock is kept for the whole import; if it is lost anyway, the import stops.
	lock, held, err := heldlock.Acquire(ctx, db, "ferry-import", 5*time.Second)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("another ferry import into %s:%s is in progress; wait for it to finish, then run again", o.Destination.Host, o.Destination.Port)
	}
	defer lock.Release()
	lost := func() error {
		return fmt.Errorf("the import stopped: %v; another import may have begun beside it. Run pulumi up again", lock.Err())
	}
	signalled := ctx
	ctx, stopOnLoss := context.WithCancelCause(ctx)
	defer stopOnLoss(nil)
	go func() {
		select {
		case <-lock.Lost():
			stopOnLoss(lost())
		case <-ctx.Done():
		}
	}()
	err = imported(ctx, signalled, db, o, work)
	if err != nil && signalled.Err() == nil && lock.Err() != nil {
		// Whatever step noticed it, the lost lock is why the import stopped.
		return lost()
	}
	return err
}

// imported is the import under its lock: ctx ends when the lock is lost, signalled when a signal
// stops the step.
func imported(ctx, signalled context.Context, db *sql.DB, o Options, work string) error {
	runID := o.runID()
	if err := keepBooks(ctx, db, runID, o.Stack); err != nil {
		return err
	}
	var state, recorded sql.NullString
	err := db.QueryRowContext(ctx, "SELECT state, sha256 FROM ferry.runs WHERE run_id = ?", runID).Scan(&state, &recorded)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if o.Manifest.Method == manifest.Physical {
		return restoredBefore(o, state.String, recorded.String)
	}
	var p *plan
	var targets []targetDatabase
	if o.Follow != nil {
		p, targets, err = following(ctx, db, o, state.String, recorded.String)
		if err != nil {
			return err
		}
	}
	if p == nil || p.watcher == nil {
		m := o.Manifest
		if p != nil {
			m = *p.manifest
		}
		var done bool
		if p, targets, done, err = completeDump(ctx, db, o, m, state.String, recorded.String); err != nil || done {
			return err
		}
	}

	options := filepath.Join(work, "destination.cnf")
	version, err := exec.CommandContext(ctx, o.Client, "--version").Output()
	if err != nil {
		return fmt.Errorf("the client %s cannot run: %v", o.Client, err)
	}
	text, err := conn.ClientOptions(o.Destination, conn.FlavorOf(string(version)))
	if err != nil {
		return fmt.Errorf("DEST: %w", err)
	}
	if err := os.WriteFile(options, []byte(text), 0o600); err != nil {
		return err
	}
	i := &importer{Options: o, work: work, options: options}
	how := "a complete dump"
	if p.watcher != nil {
		how = "following the dump as it stores its chunks"
	}
	o.Log("importing run %s (%s, %s, %d data stream(s) side by side, then definitions) into %s", runID, how, p.compression, len(p.streams)-1, strings.Join(p.databases, " "))
	started := time.Now()
	in, names := sqlident.InList(p.databases)
	stopProgress := progress.Every(o.ProgressEvery, func() {
		present := "?"
		var n int
		if db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA IN "+in, names...).Scan(&n) == nil {
			present = fmt.Sprint(n)
		}
		o.Log("%s", progress.Line("import", i.downloaded.Load(), p.bytes(), started, "tables="+present+"/"+p.tables()))
	})
	putBack := raise(ctx, db, o.Settings, o.Log)
	problem := i.streams(ctx, p, p.streams[:len(p.streams)-1])
	var m manifest.Manifest
	if problem == nil {
		// Only the manifest proves the dump complete: the definitions wait for it, and are
		// checked against the destination's settings as a complete dump's are before anything.
		m, problem = p.complete(ctx)
		if problem == nil && p.watcher != nil {
			o.Log("the dump of run %s is complete (its manifest names attempt %s): %d of its %d chunks were imported while it ran", runID, m.Attempt, p.watcher.Early(), len(m.Objects()))
			problem = fits(ctx, db, m)
		}
	}
	if problem == nil {
		// Views, routines and events last: a view can only be created once its tables exist.
		o.Log("tables imported; now the views, routines and events")
		problem = i.streams(ctx, p, []string{manifest.Definitions})
	}
	stopProgress()
	// Put back on a lost lock or a signal too, within the step's last seconds.
	putBackCtx, cancelPutBack := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	putBack(putBackCtx)
	cancelPutBack()
	switch {
	case problem != nil && signalled.Err() != nil:
		// SIGTERM or SIGINT (a Job's deadline, an evicted pod, ^C): what stopped is the signal.
		problem = errors.New(deadline.Stopped("the import") + ".")
	case problem != nil && ctx.Err() != nil:
		// The lost lock (Run's cause).
		problem = context.Cause(ctx)
	}
	if problem != nil {
		return i.fail(db, runID, targets, problem)
	}
	if err := recordImported(ctx, db, runID, Digest(m)); err != nil {
		return err
	}
	opening, _ := seal.Spent()
	o.Log("imported run %s: %d tables of %s in %.0fs, every chunk's sha256 verified; opening the seals took %.2fs of CPU", runID, m.TableCount, strings.Join(m.Databases, " "), time.Since(started).Seconds(), opening.Seconds())
	return nil
}

// restoredBefore is the import of a physical copy: nothing to import, once the destination's
// restore (before its server started) has recorded this very copy.
func restoredBefore(o Options, state, recorded string) error {
	m := o.Manifest
	if (state == "imported" || state == StateReplicating || state == StateCutOver) && recorded == Digest(m) {
		o.Log("run %s is a physical copy, restored into the destination's data directory before its server started; nothing to import", m.RunID)
		return nil
	}
	return fmt.Errorf("run %s is a physical copy of the source's data files, which the destination's restore takes before its server starts (ferry:migration.method physical); this destination has not restored it (its record of the run: %q): nothing of it is imported", m.RunID, orNone(state))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// completeDump checks a complete dump's import before anything is written and records its start:
// done when the run is imported already. What this dump may treat as its own is what an
// interrupted attempt of the same dump recorded as created by it (under the manifest's digest, or
// its attempt's mark while an import followed it); whatever the run record says, nothing else
// that holds an object is imported into without overwrite, and nothing that existed before is
// ever dropped.
func completeDump(ctx context.Context, db *sql.DB, o Options, m manifest.Manifest, state, recorded string) (p *plan, targets []targetDatabase, done bool, err error) {
	p = &plan{runID: m.RunID, compression: m.Compression, databases: m.Databases, streams: streamNames(m), mark: Digest(m), manifest: &m}
	// Imported, and in live mode maybe replicating or cut over since: never imported again (the
	// data has moved on from the dump).
	if (state == "imported" || state == StateReplicating || state == StateCutOver) && recorded == p.mark {
		o.Log("run %s is already imported (%s); nothing to do", m.RunID, state)
		return p, nil, true, nil
	}
	if err := complete(ctx, o.Store, m); err != nil {
		return nil, nil, false, err
	}
	if err := fits(ctx, db, m); err != nil {
		return nil, nil, false, err
	}
	owned := map[string]bool{}
	if state == "importing" && (recorded == p.mark || (m.Attempt != "" && recorded == AttemptMark(m.Attempt))) {
		if owned, err = ownedDatabases(ctx, db, m.RunID, recorded); err != nil {
			return nil, nil, false, err
		}
		o.Log("resuming the interrupted import of run %s", m.RunID)
	}
	if targets, err = readTarget(ctx, db, m.Databases, owned); err != nil {
		return nil, nil, false, err
	}
	var occupied []string
	for _, t := range targets {
		if t.objects() > 0 && !t.ownedByRun {
			occupied = append(occupied, t.describe())
		}
	}
	if len(occupied) > 0 && !o.Overwrite {
		return nil, nil, false, fmt.Errorf("the destination is not empty: %s. Set ferry:migration.overwrite to true to replace what the dump holds of the same names, or migrate into an empty destination.", strings.Join(occupied, "; "))
	}
	return p, targets, false, recordStart(ctx, db, m.RunID, p.mark, targets)
}

// VersionNumber is a server version as executable comments compare it: 10.11.19-MariaDB is 101119.
func VersionNumber(version string) (int, error) {
	var major, minor, patch int
	if _, err := fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return 0, fmt.Errorf("the destination's version %q cannot be read: %v", version, err)
	}
	return major*10000 + minor*100 + patch, nil
}

// complete says why a run's dump cannot be imported when a chunk of it is gone: its cleanup
// removed it after the run verified (the manifest and result stay as the run's record), or the
// stored dump lost a part.
func complete(ctx context.Context, store *objstore.Store, m manifest.Manifest) error {
	for _, key := range m.Objects() {
		present, err := store.Exists(ctx, key)
		if err != nil {
			return fmt.Errorf("cannot look for %s: %v; check ferry:objectStore", store.URL(key), err)
		}
		if present {
			continue
		}
		verified, err := store.Exists(ctx, manifest.VerificationKey(m.RunID))
		if err == nil && verified {
			return fmt.Errorf("the dump of run %s was removed by its cleanup once the run had verified; there is nothing left to import. To migrate again, set ferry:migration.runId to a new run id", m.RunID)
		}
		return fmt.Errorf("%s of run %s is missing: the stored dump is incomplete. Dump again under a new ferry:migration.runId", store.URL(key), m.RunID)
	}
	return nil
}

// waitFor waits for a destination that does not accept connections yet (a fresh database pod); a
// refused login will not get better.
func waitFor(ctx context.Context, db *sql.DB, o Options) error {
	started := time.Now()
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// SIGTERM or SIGINT while waiting (a Job's deadline that passed while the server was away).
			return fmt.Errorf("%s, while it waited for the destination database at %s:%s", deadline.Stopped("the import"), o.Destination.Host, o.Destination.Port)
		}
		explained := conn.Explain(err, "the destination database", "ferry:destination")
		if conn.Lasting(err) {
			return errors.New(explained)
		}
		if time.Since(started) >= o.Wait {
			return fmt.Errorf("the destination database at %s:%s did not accept connections within %.0fs: %v", o.Destination.Host, o.Destination.Port, o.Wait.Seconds(), err)
		}
		o.Log("waiting for the destination database at %s:%s (%.0fs)", o.Destination.Host, o.Destination.Port, time.Since(started).Seconds())
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

type importer struct {
	Options
	work       string
	options    string
	downloaded atomic.Int64
}

// streams imports the named streams side by side, each into its own session, and returns the
// first problem.
func (i *importer) streams(ctx context.Context, p *plan, names []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, name := range names {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			began := time.Now()
			sqlBytes, chunkCount, err := i.stream(ctx, p, name)
			if err == nil {
				// Said as each ends: streams that end far apart show a plan out of balance.
				i.Log("stream %s imported: %d MiB of SQL in %d chunk(s), %.1fs", name, sqlBytes>>20, chunkCount, time.Since(began).Seconds())
				return
			}
			mu.Lock()
			if first == nil {
				first = err
				cancel()
			}
			mu.Unlock()
		}(name)
	}
	wg.Wait()
	return first
}

var clientError = regexp.MustCompile(`(?m)^ERROR .*$`)

// stream: the stream's chunks, checked, rewritten and fed to one client session; it returns the
// SQL's bytes and the chunks it took. The client's exit status and the fetch's error are both
// known here: a damaged dump is told apart from a destination that refused it.
func (i *importer) stream(ctx context.Context, p *plan, name string) (sqlBytes int64, chunkCount int, err error) {
	dir, err := os.MkdirTemp(i.work, name+"-")
	if err != nil {
		return 0, 0, err
	}
	args := []string{"--defaults-file=" + i.options, "--batch", "--skip-column-names", "--max-allowed-packet=1G",
		// The client would otherwise strip comments, also those inside stored programs' bodies.
		"--comments",
		// The rewrite follows the client's reading of quotes byte by byte: a character set whose
		// characters may hold a quote or backslash byte (sjis, gbk, ...) would read otherwise.
		"--default-character-set=utf8mb4"}
	if !i.WriteBinlog {
		// The import's sessions leave the destination's binary log out unless WRITE_BINLOG, as
		// myloader does by default: the destination is the new server ferry deploys, with no replica
		// to replay a bulk load, and the setting ends with each session.
		args = append(args, "--init-command=SET SESSION sql_log_bin = 0")
	}
	client := exec.CommandContext(ctx, i.Client, args...)
	client.Env = os.Environ()
	var stderr child.Tail
	client.Stderr = &stderr
	input, err := client.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := client.Start(); err != nil {
		return 0, 0, fmt.Errorf("cannot start %s: %v", i.Client, err)
	}
	sqlText, sqlPipe := io.Pipe()
	fetcher := &chunks.Fetcher{Store: i.Store, RunID: p.runID, Compression: p.compression, Dir: dir,
		Patience: i.Patience, Stall: i.Stall, RunKey: i.RunKey, Downloaded: &i.downloaded, Log: i.Log}
	source := p.source(name)
	// Counted as taken: a chunk the fetch took is written whole or the stream fails.
	counted := func(ctx context.Context, n int) (manifest.Chunk, bool, error) {
		c, ok, err := source(ctx, n)
		if ok && err == nil {
			sqlBytes += c.SQLBytes
		}
		return c, ok, err
	}
	fetched := make(chan error, 1)
	go func() {
		n, err := fetcher.FetchFrom(ctx, counted, sqlPipe)
		chunkCount = n
		_ = sqlPipe.CloseWithError(err)
		fetched <- err
	}()
	rewriteErr := i.Rewrite.Copy(input, sqlText)
	if rewriteErr != nil {
		// The client stopped reading (its own error says why), or the fetch failed: either way
		// the fetch stops at its next write.
		_ = sqlText.CloseWithError(rewriteErr)
	}
	_ = input.Close()
	clientErr := client.Wait()
	fetchErr := <-fetched
	var writeErr *chunks.WriteError
	switch {
	case fetchErr != nil && !errors.As(fetchErr, &writeErr):
		return 0, 0, fetchErr
	case clientErr != nil:
		detail := clientError.FindAllString(stderr.String(), -1)
		reason := strings.TrimSpace(stderr.String())
		if len(detail) > 0 {
			reason = detail[len(detail)-1]
		}
		return 0, 0, fmt.Errorf("the destination rejected the import: %s.", reason)
	case rewriteErr != nil:
		return 0, 0, fmt.Errorf("the %s stream failed: %v", name, rewriteErr)
	}
	return sqlBytes, chunkCount, nil
}

// fail records the failure and removes the databases this dump created; a database that existed
// before (empty, or replaced with overwrite) is never dropped, and the message says so.
func (i *importer) fail(db *sql.DB, runID string, targets []targetDatabase, problem error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	detail := problem.Error()
	var removed, kept []string
	for _, t := range targets {
		if !t.created() {
			kept = append(kept, sqlident.Quote(t.name))
			continue
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlident.Quote(t.name)); err != nil {
			i.Log("could not drop %s: %v", sqlident.Quote(t.name), err)
			kept = append(kept, sqlident.Quote(t.name))
			continue
		}
		removed = append(removed, sqlident.Quote(t.name))
	}
	switch {
	case len(kept) == 0:
		detail += " The partial import was removed; the destination is empty again."
	case len(removed) > 0:
		detail += fmt.Sprintf(" The databases the import created were removed (%s); %s existed before it and were left as they are, with what the import wrote into them.", strings.Join(removed, " "), strings.Join(kept, " "))
	default:
		detail += fmt.Sprintf(" %s existed before the import and were left as they are, with what the import wrote into them.", strings.Join(kept, " "))
	}
	_, _ = db.ExecContext(ctx, "UPDATE ferry.runs SET state = 'failed', finished_at = UTC_TIMESTAMP(), detail = ? WHERE run_id = ?", detail, runID)
	return errors.New(detail)
}
