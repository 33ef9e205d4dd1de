package load

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/follow"
	"ferry.local/dataplane/internal/manifest"
)

// Follow is a running dump the import follows: the attempt follow.Await found moving, where its
// run is stored, and how often and how long to look for what it stores.
type Follow struct {
	Run     follow.Run
	Attempt manifest.Attempt
	Poll    time.Duration
	// Stall: how long the dump may store nothing before the import gives it up.
	Stall time.Duration
}

// plan is what an import imports: a complete dump, told by its manifest, or a dump still running,
// followed chunk by chunk as it stores them (package follow).
type plan struct {
	runID       string
	compression string
	databases   []string
	// streams: the data streams, then the definitions.
	streams []string
	// mark is what ferry.runs records of the dump while it is imported: the manifest's digest, or,
	// while the dump runs, its attempt's mark.
	mark string
	// manifest is the complete dump's; nil while a followed dump runs.
	manifest *manifest.Manifest
	// watcher follows the running dump; nil for a complete one.
	watcher *follow.Watcher
	// checkChunk, when set, is asked before each chunk a followed dump stored is taken.
	checkChunk func() error
}

func (o Options) runID() string {
	if o.Follow != nil {
		return o.Follow.Attempt.RunID
	}
	return o.Manifest.RunID
}

// AttemptMark is what ferry.runs and ferry.run_databases record of a run while an import follows
// one attempt of its dump (the digest of the chunks is known only once the dump is complete): an
// import that resumes after it, following the same attempt or importing its manifest, knows the
// databases it created as its own.
func AttemptMark(attempt string) string {
	sum := sha256.Sum256([]byte("ferry-attempt\x00" + attempt))
	return hex.EncodeToString(sum[:])
}

func streamNames(m manifest.Manifest) []string {
	names := make([]string, 0, len(m.Streams))
	for _, s := range m.Streams {
		if s.Name != manifest.Definitions {
			names = append(names, s.Name)
		}
	}
	return append(names, manifest.Definitions)
}

// source tells stream's chunks: from the manifest, or as the followed dump stores them.
func (p *plan) source(stream string) chunks.Source {
	if p.watcher != nil {
		told := p.watcher.Source(stream)
		return func(ctx context.Context, i int) (manifest.Chunk, bool, error) {
			c, ok, err := told(ctx, i)
			if ok && err == nil && p.checkChunk != nil {
				err = p.checkChunk()
			}
			return c, ok, err
		}
	}
	s, _ := p.manifest.Stream(stream)
	return chunks.Listed(s.Chunks)
}

// complete is the dump's manifest: at once for a complete dump, or once the followed one has
// written it.
func (p *plan) complete(ctx context.Context) (manifest.Manifest, error) {
	if p.watcher == nil {
		return *p.manifest, nil
	}
	m, err := p.watcher.Manifest(ctx)
	if err == nil {
		p.manifest = &m
	}
	return m, err
}

// bytes is the dump's stored size (so far, while it is followed), for progress lines.
func (p *plan) bytes() int64 {
	if p.watcher != nil {
		return p.watcher.Stored()
	}
	return p.manifest.Bytes
}

// tables is the dump's table count ("?" until a followed dump is complete).
func (p *plan) tables() string {
	if p.watcher != nil {
		return "?"
	}
	return fmt.Sprint(p.manifest.TableCount)
}

// following starts following the running dump when every database it dumps is absent from the
// destination or holds nothing but what an interrupted import of the same attempt left: a dump
// that fails then takes with it only databases the import made. Into anything else (a database
// that holds objects, which only overwrite may replace) the import waits for the manifest and
// imports the complete dump: the plan it returns then has no watcher, and the caller checks and
// records the target as for any complete dump.
func following(ctx context.Context, db *sql.DB, o Options, state, recorded string) (*plan, []targetDatabase, error) {
	a := o.Follow.Attempt
	p := &plan{runID: a.RunID, compression: a.Compression, databases: a.Databases, streams: a.Streams, mark: AttemptMark(a.ID),
		watcher: follow.Watch(ctx, o.Follow.Run, a, o.Follow.Poll, o.Follow.Stall)}
	owned := map[string]bool{}
	if state == "importing" && recorded == p.mark {
		var err error
		if owned, err = ownedDatabases(ctx, db, a.RunID, p.mark); err != nil {
			return nil, nil, err
		}
		o.Log("resuming the interrupted import of run %s, following attempt %s of its dump", a.RunID, a.ID)
	}
	targets, err := readTarget(ctx, db, a.Databases, owned)
	if err != nil {
		return nil, nil, err
	}
	var occupied []string
	for _, t := range targets {
		if t.objects() > 0 && !t.ownedByRun {
			occupied = append(occupied, t.describe())
		}
	}
	if len(occupied) > 0 {
		o.Log("the destination is not empty (%s): the import waits for the dump to complete instead of following it", strings.Join(occupied, "; "))
		m, err := p.watcher.Manifest(ctx)
		if err != nil {
			return nil, nil, err
		}
		return &plan{manifest: &m}, nil, nil
	}
	if err := recordStart(ctx, db, a.RunID, p.mark, targets); err != nil {
		return nil, nil, err
	}
	// Checked as the dump stores them: no chunk of a statement longer than the destination takes
	// is written (a complete dump's manifest is checked whole before anything, by fits).
	var packet int64
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.max_allowed_packet").Scan(&packet); err != nil {
		return nil, nil, fmt.Errorf("reading the destination's settings: %v", err)
	}
	watcher := p.watcher
	p.checkChunk = func() error {
		if longest, stream := watcher.Longest(); longest+1024 > packet {
			return fmt.Errorf("the destination cannot take this dump as it is set: %s", packetProblem(packet, longest, stream))
		}
		return nil
	}
	return p, targets, nil
}

// recordStart records, before the import's first statement, that the run is being imported and
// which databases it made (target_was_empty: none held an object it did not make).
func recordStart(ctx context.Context, db *sql.DB, runID, mark string, targets []targetDatabase) error {
	targetWasEmpty := true
	for _, t := range targets {
		if t.objects() > 0 && !t.ownedByRun {
			targetWasEmpty = false
		}
	}
	if _, err := db.ExecContext(ctx, `REPLACE INTO ferry.runs (run_id, state, sha256, target_was_empty, started_at)
	    VALUES (?, 'importing', ?, ?, UTC_TIMESTAMP())`, runID, mark, targetWasEmpty); err != nil {
		return err
	}
	return recordTarget(ctx, db, runID, mark, targets)
}

// recordImported records the run as imported under its dump's digest (what a followed import
// recorded under its attempt's mark moves to the digest), both or neither.
func recordImported(ctx context.Context, db *sql.DB, runID, digest string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "UPDATE ferry.run_databases SET sha256 = ? WHERE run_id = ?", digest, runID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE ferry.runs SET state = 'imported', sha256 = ?, finished_at = UTC_TIMESTAMP() WHERE run_id = ?", digest, runID); err != nil {
		return err
	}
	return tx.Commit()
}
