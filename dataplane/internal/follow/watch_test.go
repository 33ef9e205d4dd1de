package follow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

// liveStore is a store a test writes while a watch reads it.
type liveStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	key     seal.Key
	t       *testing.T
}

func newLiveStore(t *testing.T) *liveStore {
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return &liveStore{objects: map[string][]byte{}, key: key, t: t}
}

func (s *liveStore) ReadAll(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	if !ok {
		return nil, errNotFound
	}
	return data, nil
}

func (s *liveStore) URL(key string) string { return "s3://bucket/" + key }

func (s *liveStore) put(label, key string, value any) {
	data := sealed(s.t, s.key, label, value)
	s.mu.Lock()
	s.objects[key] = data
	s.mu.Unlock()
}

func (s *liveStore) putAttempt(a manifest.Attempt) {
	s.put(manifest.AttemptKey("run-1"), manifest.AttemptKey("run-1"), a)
}

func (s *liveStore) putIndex(attemptID, stream string, chunks []manifest.Chunk) {
	s.put(manifest.IndexLabel("run-1", stream, attemptID), manifest.IndexKey("run-1", stream),
		manifest.Index{Format: manifest.AttemptFormat, Attempt: attemptID, Stream: stream, Chunks: chunks, LongestLine: 100})
}

func (s *liveStore) putManifest(attemptID string, streams map[string][]manifest.Chunk) {
	m := manifest.Manifest{Format: manifest.Format, RunID: "run-1", Databases: []string{"shop"}, Compression: "zstd", Attempt: attemptID,
		Digests: []digest.Object{{Kind: digest.Table, Database: "shop", Name: "t"}}}
	for _, name := range []string{"data-1", manifest.Definitions} {
		m.Streams = append(m.Streams, manifest.Stream{Name: name, Chunks: streams[name]})
	}
	data, err := m.Marshal()
	if err != nil {
		s.t.Fatal(err)
	}
	sealedData, err := seal.Bytes(s.key, manifest.Key("run-1"), data)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.objects[manifest.Key("run-1")] = sealedData
	s.mu.Unlock()
}

func (s *liveStore) run() Run {
	return Run{Store: s, RunKey: s.key, RunID: "run-1", Missing: func(err error) bool { return errors.Is(err, errNotFound) },
		Lasting: func(error) bool { return false }}
}

func chunk(stream string, i int) manifest.Chunk {
	return manifest.Chunk{Object: fmt.Sprintf("runs/run-1/%s/%06d.sql.zst", stream, i), Bytes: int64(10 + i), SQLBytes: 20, SHA256: strings.Repeat(fmt.Sprint(i%10), 64)}
}

func chunksOf(stream string, n int) []manifest.Chunk {
	var out []manifest.Chunk
	for i := 0; i < n; i++ {
		out = append(out, chunk(stream, i))
	}
	return out
}

const poll = 5 * time.Millisecond

// next asks source for chunk i within a second.
func next(t *testing.T, source func(context.Context, int) (manifest.Chunk, bool, error), i int) (manifest.Chunk, bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return source(ctx, i)
}

// watching starts a watch of attempt a1 whose data-1 index lists indexed chunks; the watch ends
// with the test.
func watching(t *testing.T, indexed int, stall time.Duration) (*liveStore, *Watcher) {
	s := newLiveStore(t)
	s.putAttempt(attempt("a1"))
	if indexed > 0 {
		s.putIndex("a1", "data-1", chunksOf("data-1", indexed))
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return s, Watch(ctx, s.run(), attempt("a1"), poll, stall)
}

func TestTellsChunksAsStoredAndEndsAStreamOnlyWithItsManifest(t *testing.T) {
	s := newLiveStore(t)
	s.putAttempt(attempt("a1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Watch(ctx, s.run(), attempt("a1"), poll, time.Minute)
	source := w.Source("data-1")

	s.putIndex("a1", "data-1", chunksOf("data-1", 1))
	if got, ok, err := next(t, source, 0); err != nil || !ok || got != chunk("data-1", 0) {
		t.Fatalf("chunk 0 = %+v, %v, %v", got, ok, err)
	}
	// Chunk 1 is not stored yet: the source waits, and says nothing about the stream's end.
	if _, _, err := next(t, source, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("chunk 1 before it is stored: %v, want a wait", err)
	}
	s.putIndex("a1", "data-1", chunksOf("data-1", 2))
	if got, ok, err := next(t, source, 1); err != nil || !ok || got != chunk("data-1", 1) {
		t.Fatalf("chunk 1 = %+v, %v, %v", got, ok, err)
	}
	// The index lists two chunks and the dump is still running: no end of the stream yet.
	if _, _, err := next(t, source, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the end of the stream before the manifest: %v, want a wait", err)
	}
	// The manifest lists a third chunk the index never showed: it is told, then the end.
	s.putManifest("a1", map[string][]manifest.Chunk{"data-1": chunksOf("data-1", 3), manifest.Definitions: chunksOf(manifest.Definitions, 1)})
	if got, ok, err := next(t, source, 2); err != nil || !ok || got != chunk("data-1", 2) {
		t.Fatalf("chunk 2 (from the manifest) = %+v, %v, %v", got, ok, err)
	}
	if _, ok, err := next(t, source, 3); err != nil || ok {
		t.Fatalf("after the manifest's last chunk: ok %v, %v; want the end", ok, err)
	}
	m, err := w.Manifest(ctx)
	if err != nil || m.Attempt != "a1" {
		t.Fatalf("Manifest = %+v, %v", m, err)
	}
	if got, ok, err := next(t, w.Source(manifest.Definitions), 0); err != nil || !ok || got != chunk(manifest.Definitions, 0) {
		t.Fatalf("definitions' chunk 0 = %+v, %v, %v", got, ok, err)
	}
}

func TestStopsOnAnythingButTheFollowedAttemptGoingOn(t *testing.T) {
	for name, c := range map[string]struct {
		change func(s *liveStore)
		want   string
		// ask is the chunk asked for after the change: the first the dump did not store (1)
		// unless the change stores more.
		ask int
	}{
		"the dump started again": {func(s *liveStore) {
			s.putAttempt(attempt("a2"))
		}, "was started again (attempt a2", 0},
		"the attempt failed": {func(s *liveStore) {
			a := attempt("a1")
			a.Failed = "the source went away"
			s.putAttempt(a)
		}, "failed: the source went away", 0},
		"the attempt statement removed": {func(s *liveStore) {
			s.mu.Lock()
			delete(s.objects, manifest.AttemptKey("run-1"))
			s.mu.Unlock()
		}, "is gone", 0},
		"an index that no longer lists a chunk it listed": {func(s *liveStore) {
			changed := chunksOf("data-1", 2)
			changed[0].SHA256 = strings.Repeat("f", 64)
			s.putIndex("a1", "data-1", changed)
		}, "no longer lists the chunks it listed before", 0},
		"an index that shrank": {func(s *liveStore) {
			s.putIndex("a1", "data-1", nil)
		}, "no longer lists the chunks it listed before", 0},
		"an index of another attempt": {func(s *liveStore) {
			s.putIndex("a0", "data-1", chunksOf("data-1", 3))
		}, "is not attempt a1's", 0},
		"a manifest of another attempt": {func(s *liveStore) {
			s.putManifest("a0", map[string][]manifest.Chunk{"data-1": chunksOf("data-1", 1), manifest.Definitions: chunksOf(manifest.Definitions, 1)})
		}, `is of attempt "a0", not of attempt a1`, 0},
		"a manifest that does not open with the run key": {func(s *liveStore) {
			s.mu.Lock()
			s.objects[manifest.Key("run-1")] = []byte("not sealed")
			s.mu.Unlock()
		}, "was not written by this run's dump", 0},
		"a manifest that leaves out a chunk the index listed": {func(s *liveStore) {
			s.putIndex("a1", "data-1", chunksOf("data-1", 2))
			time.Sleep(20 * poll)
			s.putManifest("a1", map[string][]manifest.Chunk{"data-1": chunksOf("data-1", 1), manifest.Definitions: chunksOf(manifest.Definitions, 1)})
		}, "does not list first, for stream data-1", 2},
		"a manifest that lists another chunk where the index listed one": {func(s *liveStore) {
			other := chunksOf("data-1", 2)
			other[0].Object = "runs/run-1/data-1/other.sql.zst"
			s.putManifest("a1", map[string][]manifest.Chunk{"data-1": other, manifest.Definitions: chunksOf(manifest.Definitions, 1)})
		}, "does not list first, for stream data-1", 0},
	} {
		t.Run(name, func(t *testing.T) {
			s, w := watching(t, 1, time.Minute)
			source := w.Source("data-1")
			if _, ok, err := next(t, source, 0); err != nil || !ok {
				t.Fatalf("chunk 0: %v, %v", ok, err)
			}
			c.change(s)
			ask := max(c.ask, 1)
			_, ok, err := next(t, source, ask)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("after the change: ok %v, err %v; want an error with %q", ok, err, c.want)
			}
			if _, err := w.Manifest(context.Background()); err == nil {
				t.Fatal("Manifest succeeded after the watch stopped")
			}
		})
	}
}

func TestStopsWhenTheDumpStoresNothingForTheStall(t *testing.T) {
	// An index read again and again with nothing new in it is not news.
	_, w := watching(t, 1, 50*time.Millisecond)
	_, _, err := next(t, w.Source("data-1"), 1)
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "attempt a1") || strings.Contains(err.Error(), "last answer") {
		t.Fatalf("a dump that stores nothing: %v, want ErrStalled", err)
	}
}

// flakyStore answers every read with an error once failing is set.
type flakyStore struct {
	*liveStore
	failing atomic.Bool
}

func (f *flakyStore) ReadAll(ctx context.Context, key string) ([]byte, error) {
	if f.failing.Load() {
		return nil, errors.New("connection refused")
	}
	return f.liveStore.ReadAll(ctx, key)
}

func TestSaysTheStoresLastAnswerWhenItStallsUnanswered(t *testing.T) {
	s := &flakyStore{liveStore: newLiveStore(t)}
	s.putAttempt(attempt("a1"))
	r := s.run()
	r.Store = s
	s.failing.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Watch(ctx, r, attempt("a1"), poll, 50*time.Millisecond)
	_, _, err := next(t, w.Source("data-1"), 0)
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "the object store's last answer: connection refused") {
		t.Fatalf("a store that stopped answering: %v", err)
	}
}

func TestEndsAStreamWhoseManifestListsExactlyWhatItsIndexListed(t *testing.T) {
	s, w := watching(t, 2, time.Minute)
	source := w.Source("data-1")
	for i := 0; i < 2; i++ {
		if _, ok, err := next(t, source, i); err != nil || !ok {
			t.Fatalf("chunk %d: %v, %v", i, ok, err)
		}
	}
	if w.Early() != 2 {
		t.Fatalf("Early = %d, want the 2 chunks told before the manifest", w.Early())
	}
	// While the dump runs: what its indexes say.
	if got, stream := w.Longest(); got != 100 || stream != "data-1" {
		t.Fatalf("Longest before the manifest = %d, %q; want the index's 100 in data-1", got, stream)
	}
	if w.Stored() != chunk("data-1", 0).Bytes+chunk("data-1", 1).Bytes {
		t.Fatalf("Stored before the manifest = %d", w.Stored())
	}
	s.putManifest("a1", map[string][]manifest.Chunk{"data-1": chunksOf("data-1", 2), manifest.Definitions: chunksOf(manifest.Definitions, 1)})
	if _, ok, err := next(t, source, 2); err != nil || ok {
		t.Fatalf("after the last chunk: ok %v, %v; want the end", ok, err)
	}
	if got, stream := w.Longest(); got != 0 || stream != "" {
		// The manifest written by the test records no longest line.
		t.Fatalf("Longest = %d, %q", got, stream)
	}
	if w.Stored() != chunk("data-1", 0).Bytes+chunk("data-1", 1).Bytes+chunk(manifest.Definitions, 0).Bytes {
		t.Fatalf("Stored = %d", w.Stored())
	}
}

func TestAwaitFollowsOnlyAnAttemptSeenToMove(t *testing.T) {
	quiet := func(string, ...any) {}
	t.Run("a complete dump", func(t *testing.T) {
		s := newLiveStore(t)
		s.putManifest("a1", map[string][]manifest.Chunk{"data-1": chunksOf("data-1", 1), manifest.Definitions: chunksOf(manifest.Definitions, 1)})
		got, err := Await(context.Background(), s.run(), Patience{Wait: time.Second, AfterFailed: time.Second, Stall: time.Minute, Poll: poll}, quiet)
		if err != nil || got.Manifest == nil || got.Manifest.Attempt != "a1" {
			t.Fatalf("Await = %+v, %v", got, err)
		}
	})
	t.Run("an attempt left by a killed dump, which never moves", func(t *testing.T) {
		s := newLiveStore(t)
		s.putAttempt(attempt("a0"))
		s.putIndex("a0", "data-1", chunksOf("data-1", 2))
		_, err := Await(context.Background(), s.run(), Patience{Wait: 100 * time.Millisecond, AfterFailed: time.Second, Stall: time.Minute, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), "attempt a0") || !strings.Contains(err.Error(), "stored nothing more") {
			t.Fatalf("a still attempt: %v, want the wait to end saying so", err)
		}
	})
	t.Run("a failed attempt, then a new one", func(t *testing.T) {
		s := newLiveStore(t)
		old := attempt("a0")
		old.Failed = "killed"
		s.putAttempt(old)
		go func() {
			time.Sleep(50 * time.Millisecond)
			s.putAttempt(attempt("a1"))
		}()
		got, err := Await(context.Background(), s.run(), Patience{Wait: time.Second, AfterFailed: time.Second, Stall: time.Minute, Poll: poll}, quiet)
		if err != nil || got.Manifest != nil || got.Attempt.ID != "a1" {
			t.Fatalf("Await = %+v, %v; want attempt a1", got, err)
		}
	})
	t.Run("a failed attempt and nothing after it", func(t *testing.T) {
		s := newLiveStore(t)
		old := attempt("a0")
		old.Failed = "killed"
		s.putAttempt(old)
		began := time.Now()
		_, err := Await(context.Background(), s.run(), Patience{Wait: time.Minute, AfterFailed: 50 * time.Millisecond, Stall: time.Minute, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), "failed (killed), and no new dump of it began within 0s") {
			t.Fatalf("Await = %v", err)
		}
		if time.Since(began) > 10*time.Second {
			t.Fatalf("waited %s past a failed attempt, not the 50ms given", time.Since(began))
		}
	})
	t.Run("an attempt that stores a chunk while Await looks", func(t *testing.T) {
		s := newLiveStore(t)
		s.putAttempt(attempt("a1"))
		go func() {
			time.Sleep(50 * time.Millisecond)
			s.putIndex("a1", "data-1", chunksOf("data-1", 1))
		}()
		got, err := Await(context.Background(), s.run(), Patience{Wait: time.Second, AfterFailed: time.Second, Stall: time.Minute, Poll: poll}, quiet)
		if err != nil || got.Attempt.ID != "a1" {
			t.Fatalf("Await = %+v, %v; want attempt a1", got, err)
		}
	})
	t.Run("an attempt that fails while Await looks", func(t *testing.T) {
		s := newLiveStore(t)
		s.putAttempt(attempt("a1"))
		go func() {
			time.Sleep(50 * time.Millisecond)
			failed := attempt("a1")
			failed.Failed = "the source went away"
			s.putAttempt(failed)
		}()
		_, err := Await(context.Background(), s.run(), Patience{Wait: time.Second, AfterFailed: time.Second, Stall: time.Minute, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), "failed: the source went away") {
			t.Fatalf("Await = %v", err)
		}
	})
	preparing := func(id string) manifest.Attempt {
		a := attempt(id)
		a.Streams = nil
		return a
	}
	t.Run("an attempt that states its streams while Await looks", func(t *testing.T) {
		s := newLiveStore(t)
		s.putAttempt(preparing("a1"))
		go func() {
			time.Sleep(50 * time.Millisecond)
			s.putAttempt(attempt("a1"))
		}()
		got, err := Await(context.Background(), s.run(), Patience{Wait: time.Second, AfterFailed: time.Second, Stall: time.Second, Poll: poll}, quiet)
		if err != nil || got.Attempt.ID != "a1" || len(got.Attempt.Streams) != 2 {
			t.Fatalf("Await = %+v, %v; want attempt a1 with its streams", got, err)
		}
	})
	t.Run("an attempt that appears preparing is not followed before its streams", func(t *testing.T) {
		s := newLiveStore(t)
		go func() {
			time.Sleep(50 * time.Millisecond)
			s.putAttempt(preparing("a1"))
		}()
		_, err := Await(context.Background(), s.run(), Patience{Wait: time.Minute, AfterFailed: time.Second, Stall: 300 * time.Millisecond, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), "(attempt a1, begun 2026-12-07T01:00:00Z) has not opened its snapshot within 0s: it seems stopped") {
			t.Fatalf("Await = %v", err)
		}
	})
	t.Run("an attempt that prepares is waited for past Wait, up to Stall since it changed", func(t *testing.T) {
		s := newLiveStore(t)
		s.putAttempt(preparing("a1"))
		began := time.Now()
		_, err := Await(context.Background(), s.run(), Patience{Wait: 50 * time.Millisecond, AfterFailed: 50 * time.Millisecond, Stall: 400 * time.Millisecond, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), "has not opened its snapshot") {
			t.Fatalf("Await = %v", err)
		}
		if waited := time.Since(began); waited < 400*time.Millisecond || waited > 10*time.Second {
			t.Fatalf("waited %s for a preparing attempt; want its Stall, 400ms", waited)
		}
	})
	t.Run("an attempt that fails while it prepares", func(t *testing.T) {
		s := newLiveStore(t)
		s.putAttempt(preparing("a1"))
		go func() {
			time.Sleep(50 * time.Millisecond)
			failed := preparing("a1")
			failed.Failed = `database "nowhere" does not exist on the source`
			s.putAttempt(failed)
		}()
		began := time.Now()
		_, err := Await(context.Background(), s.run(), Patience{Wait: time.Minute, AfterFailed: time.Minute, Stall: time.Minute, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), `the dump of run run-1 failed: database "nowhere" does not exist`) {
			t.Fatalf("Await = %v", err)
		}
		if time.Since(began) > 10*time.Second {
			t.Fatalf("took %s to see the failure", time.Since(began))
		}
	})
	t.Run("nothing at all", func(t *testing.T) {
		s := newLiveStore(t)
		_, err := Await(context.Background(), s.run(), Patience{Wait: 50 * time.Millisecond, AfterFailed: time.Second, Stall: time.Minute, Poll: poll}, quiet)
		if err == nil || !strings.Contains(err.Error(), "no dump of it has begun") {
			t.Fatalf("Await = %v", err)
		}
	})
}
