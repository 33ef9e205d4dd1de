package follow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

// Run is where a run's dump is stored and how its objects are told apart.
type Run struct {
	Store  Reader
	RunKey seal.Key
	RunID  string
	// Missing says an error is the store's "no such object".
	Missing func(error) bool
	// Lasting says an error will not get better by asking again (a refused user).
	Lasting func(error) bool
}

// ReadManifest reads the run's manifest; the store's not-found error passes through unchanged
// while the dump has not completed.
func ReadManifest(ctx context.Context, r Run) (manifest.Manifest, []byte, error) {
	key := manifest.Key(r.RunID)
	data, err := r.Store.ReadAll(ctx, key)
	if err != nil {
		return manifest.Manifest{}, nil, err
	}
	data, err = seal.OpenBytes(r.RunKey, key, data)
	if err != nil {
		return manifest.Manifest{}, nil, refused("the manifest of run %s was not written by this run's dump: %v", r.RunID, err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return m, nil, refused("the manifest of run %s: %v", r.RunID, err)
	}
	if m.RunID != r.RunID {
		return m, nil, refused("the manifest at %s is of run %q, not %s", r.Store.URL(key), m.RunID, r.RunID)
	}
	return m, data, nil
}

// Begun is what Await found: a complete dump's manifest, or the attempt of a dump that runs.
type Begun struct {
	Manifest *manifest.Manifest
	Attempt  manifest.Attempt
}

// Patience is how long Await waits, and how often it looks.
type Patience struct {
	// Wait bounds the wait for a dump to begin (to state itself) and for an attempt found with
	// its streams already stated to be seen to move.
	Wait time.Duration
	// AfterFailed bounds the wait past an attempt that had failed before Await began.
	AfterFailed time.Duration
	// Stall bounds the wait for an attempt that prepares (stated, its snapshot not yet open):
	// the time since it last changed.
	Stall time.Duration
	Poll  time.Duration
}

// Await waits for the run's dump to be complete or to run with its streams stated. An attempt
// counts as running once it is seen to move while Await looks (it appears or is replaced, its
// streams are stated, or one of its indexes grows): an attempt statement left by a dump killed in
// an earlier up, which nothing will complete, is never followed. An attempt that fails while
// Await looks ends the wait with its reason; one that had failed before Await began (an earlier
// up's, or this up's seen by a retried import) is waited past for p.AfterFailed at most: the next
// attempt, if one comes, states itself within seconds of its start. An attempt that prepares (the
// dump states itself once the source has passed its checks, and its streams once its snapshot is
// open, which waits for the source's global read lock) is waited for while it changed within
// p.Stall.
func Await(ctx context.Context, r Run, p Patience, log func(string, ...any)) (Begun, error) {
	started := time.Now()
	afterFailed := min(p.AfterFailed, p.Wait)
	// first is the attempt found when Await began (its Failed decides afterFailed); last is the
	// attempt as last seen and changed is when it was first seen so.
	var first, last manifest.Attempt
	var lastProgress int
	seen := false
	changed := started
	for {
		m, _, err := ReadManifest(ctx, r)
		switch {
		case err == nil:
			return Begun{Manifest: &m}, nil
		case !r.Missing(err):
			if IsRefusal(err) || r.Lasting(err) {
				return Begun{}, err
			}
			log("cannot read the manifest of run %s yet (%v); trying again", r.RunID, err)
		}
		attempt, err := ReadAttempt(ctx, r.Store, r.RunKey, r.RunID)
		switch {
		case err == nil:
			progress := storedChunks(ctx, r, attempt)
			moved := attempt.ID != last.ID || attempt.Failed != last.Failed ||
				len(attempt.Streams) != len(last.Streams) || progress != lastProgress
			switch {
			case !seen:
				first, seen = attempt, true
			case moved && attempt.Failed != "":
				return Begun{}, fmt.Errorf("the dump of run %s failed: %s", r.RunID, attempt.Failed)
			case moved && len(attempt.Streams) > 0:
				return Begun{Attempt: attempt}, nil
			}
			if moved {
				last, lastProgress, changed = attempt, progress, time.Now()
			}
		case r.Missing(err):
			// No attempt is a state too: one that appears has moved.
			seen = true
		case IsRefusal(err) || r.Lasting(err):
			return Begun{}, err
		default:
			log("cannot read the dump's attempt of run %s yet (%v); trying again", r.RunID, err)
		}
		preparing := last.ID != "" && last.Failed == "" && len(last.Streams) == 0
		switch {
		case first.Failed != "" && last.ID == first.ID && time.Since(started) >= afterFailed:
			return Begun{}, fmt.Errorf("the dump of run %s failed (%s), and no new dump of it began within %.0fs; run pulumi up again once its cause is mended", r.RunID, first.Failed, afterFailed.Seconds())
		case preparing && time.Since(changed) >= p.Stall:
			return Begun{}, fmt.Errorf("the dump of run %s (attempt %s, begun %s) has not opened its snapshot within %.0fs: it seems stopped; run pulumi up again", r.RunID, last.ID, last.StartedAt, p.Stall.Seconds())
		case !preparing && time.Since(started) >= p.Wait:
			// (A failed first attempt ended the wait at afterFailed.)
			why := "no dump of it has begun"
			if last.ID != "" {
				why = fmt.Sprintf("its dump (attempt %s, begun %s) stored nothing more while the import waited", last.ID, last.StartedAt)
			}
			return Begun{}, fmt.Errorf("the import waited %.0fs for the dump of run %s, and %s; run pulumi up again", p.Wait.Seconds(), r.RunID, why)
		}
		select {
		case <-ctx.Done():
			return Begun{}, ctx.Err()
		case <-time.After(p.Poll):
		}
	}
}

// storedChunks counts the chunks attempt's indexes list (those that can be read).
func storedChunks(ctx context.Context, r Run, attempt manifest.Attempt) int {
	n := 0
	for _, stream := range attempt.Streams {
		if index, err := ReadIndex(ctx, r.Store, r.RunKey, r.RunID, stream, attempt.ID); err == nil {
			n += len(index.Chunks)
		}
	}
	return n
}

// Watcher follows one attempt of a run's dump as it stores its streams: every poll it reads the
// attempt's statement, the manifest and each stream's index, and tells each stream's chunks in
// order as they are stored. A stream ends only once the manifest exists, names the followed
// attempt, and lists for that stream first every chunk its index listed, in the same order: the
// chunks a follower took are then exactly the first of the manifest's, and it takes the rest
// from the manifest. Anything else ends the watch with an error every waiter is told: the
// attempt replaced or failed, an index that does not extend the one read before, a manifest of
// another attempt or other streams, nothing new stored for stall.
type Watcher struct {
	run     Run
	attempt manifest.Attempt
	poll    time.Duration
	stall   time.Duration

	mu      sync.Mutex
	changed chan struct{}
	indexes map[string]manifest.Index
	final   *manifest.Manifest
	err     error
	// early counts the chunks told before the manifest was read.
	early atomic.Int64
}

// ErrStalled: the followed dump stored nothing for the watch's stall.
var ErrStalled = errors.New("the dump stored nothing new")

// Watch starts following attempt; the watch ends with ctx.
func Watch(ctx context.Context, r Run, attempt manifest.Attempt, poll, stall time.Duration) *Watcher {
	w := &Watcher{run: r, attempt: attempt, poll: poll, stall: stall, changed: make(chan struct{}), indexes: map[string]manifest.Index{}}
	go w.follow(ctx)
	return w
}

func (w *Watcher) follow(ctx context.Context) {
	lastNews := time.Now()
	var lastErr error
	for {
		news, err := w.look(ctx)
		switch {
		case ctx.Err() != nil:
			w.fail(ctx.Err())
			return
		case err != nil && (IsRefusal(err) || w.run.Lasting(err)):
			w.fail(err)
			return
		case err != nil:
			lastErr = err
		case news:
			lastNews, lastErr = time.Now(), nil
		}
		w.mu.Lock()
		done := w.final != nil
		w.mu.Unlock()
		if done {
			return
		}
		if time.Since(lastNews) > w.stall {
			detail := ""
			if lastErr != nil {
				detail = fmt.Sprintf(" (the object store's last answer: %v)", lastErr)
			}
			w.fail(fmt.Errorf("%w for %s: the dump of run %s (attempt %s) seems stopped%s", ErrStalled, w.stall.Round(time.Second), w.run.RunID, w.attempt.ID, detail))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.poll):
		}
	}
}

// refusal is what the watch saw that no later look can make right.
type refusal struct{ message string }

func (r *refusal) Error() string { return r.message }

func refused(format string, args ...any) error {
	return &refusal{fmt.Sprintf(format, args...)}
}

// look reads the attempt, the manifest and the unfinished indexes once; news is a chunk stored
// or the manifest written.
func (w *Watcher) look(ctx context.Context) (news bool, err error) {
	r := w.run
	defer func() {
		if news {
			w.tell()
		}
	}()
	attempt, err := ReadAttempt(ctx, r.Store, r.RunKey, r.RunID)
	switch {
	case r.Missing(err):
		return false, refused("the dump's attempt statement %s is gone", r.Store.URL(manifest.AttemptKey(r.RunID)))
	case err != nil:
		return false, err
	case attempt.ID != w.attempt.ID:
		return false, refused("the dump of run %s was started again (attempt %s, begun %s) while the import followed attempt %s", r.RunID, attempt.ID, attempt.StartedAt, w.attempt.ID)
	case attempt.Failed != "":
		return false, refused("the dump of run %s failed: %s", r.RunID, attempt.Failed)
	}
	m, _, err := ReadManifest(ctx, r)
	switch {
	case err == nil:
		// complete tells the waiters itself.
		return false, w.complete(m)
	case !r.Missing(err):
		return false, err
	}
	for _, stream := range w.attempt.Streams {
		index, err := ReadIndex(ctx, r.Store, r.RunKey, r.RunID, stream, w.attempt.ID)
		if r.Missing(err) {
			continue
		}
		if err != nil {
			return news, err
		}
		w.mu.Lock()
		before := w.indexes[stream].Chunks
		w.mu.Unlock()
		if len(index.Chunks) < len(before) || !slices.Equal(index.Chunks[:len(before)], before) {
			return news, refused("the index of stream %s of attempt %s no longer lists the chunks it listed before", stream, w.attempt.ID)
		}
		if len(index.Chunks) > len(before) {
			w.mu.Lock()
			w.indexes[stream] = index
			w.mu.Unlock()
			news = true
		}
	}
	return news, nil
}

// complete takes the manifest as the end of every stream once it is the followed attempt's and
// extends every index read.
func (w *Watcher) complete(m manifest.Manifest) error {
	if m.Attempt != w.attempt.ID {
		return refused("the manifest of run %s is of attempt %q, not of attempt %s the import followed", w.run.RunID, m.Attempt, w.attempt.ID)
	}
	names := make([]string, len(m.Streams))
	for i, s := range m.Streams {
		names[i] = s.Name
	}
	if !slices.Equal(names, w.attempt.Streams) {
		return refused("the manifest of run %s names streams %q, and its attempt stated %q", w.run.RunID, names, w.attempt.Streams)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range m.Streams {
		listed := w.indexes[s.Name].Chunks
		if len(s.Chunks) < len(listed) || !slices.Equal(s.Chunks[:len(listed)], listed) {
			return refused("the manifest of run %s does not list first, for stream %s, the chunks its index listed", w.run.RunID, s.Name)
		}
	}
	w.final = &m
	w.tellLocked()
	return nil
}

// IsRefusal says err is what was read being refused (not the run's, or not this attempt's going
// on), not the store failing to answer.
func IsRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// fail ends the watch with err, unless it already ended.
func (w *Watcher) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.final == nil {
		w.err = err
	}
	w.tellLocked()
}

func (w *Watcher) tell() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tellLocked()
}

func (w *Watcher) tellLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// Source tells stream's chunks as the dump stores them (a chunks.Source): it waits for chunk i,
// and says the stream has ended only from the followed attempt's manifest.
func (w *Watcher) Source(stream string) func(ctx context.Context, i int) (manifest.Chunk, bool, error) {
	return func(ctx context.Context, i int) (manifest.Chunk, bool, error) {
		for {
			w.mu.Lock()
			err, final, listed, changed := w.err, w.final, w.indexes[stream], w.changed
			w.mu.Unlock()
			switch {
			case err != nil:
				return manifest.Chunk{}, false, err
			case final != nil:
				s, _ := final.Stream(stream)
				if i < len(s.Chunks) {
					return s.Chunks[i], true, nil
				}
				return manifest.Chunk{}, false, nil
			case i < len(listed.Chunks):
				w.early.Add(1)
				return listed.Chunks[i], true, nil
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return manifest.Chunk{}, false, ctx.Err()
			}
		}
	}
}

// Early is how many chunks were told before the dump was complete: what following gained.
func (w *Watcher) Early() int64 { return w.early.Load() }

// Longest is the longest line of SQL the indexes (or the manifest, once written) list so far,
// and its stream.
func (w *Watcher) Longest() (int64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.final != nil {
		return w.final.LongestLine()
	}
	var longest int64
	var stream string
	for _, name := range w.attempt.Streams {
		if n := w.indexes[name].LongestLine; n > longest {
			longest, stream = n, name
		}
	}
	return longest, stream
}

// Stored is the bytes of the chunks told so far (what the dump has stored, as far as the watch
// has read).
func (w *Watcher) Stored() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var total int64
	for _, name := range w.attempt.Streams {
		chunks := w.indexes[name].Chunks
		if w.final != nil {
			s, _ := w.final.Stream(name)
			chunks = s.Chunks
		}
		for _, c := range chunks {
			total += c.Bytes
		}
	}
	return total
}

// Manifest waits for the followed attempt's manifest: the proof that the dump is complete.
func (w *Watcher) Manifest(ctx context.Context) (manifest.Manifest, error) {
	for {
		w.mu.Lock()
		err, final, changed := w.err, w.final, w.changed
		w.mu.Unlock()
		switch {
		case err != nil:
			return manifest.Manifest{}, err
		case final != nil:
			return *final, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return manifest.Manifest{}, ctx.Err()
		}
	}
}
