package follow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

type memoryStore map[string][]byte

var errNotFound = errors.New("not found")

func (m memoryStore) ReadAll(_ context.Context, key string) ([]byte, error) {
	data, ok := m[key]
	if !ok {
		return nil, errNotFound
	}
	return data, nil
}

func (m memoryStore) URL(key string) string { return "s3://bucket/" + key }

func sealed(t *testing.T, key seal.Key, label string, value any) []byte {
	t.Helper()
	data, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	out, err := seal.Bytes(key, label, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func attempt(id string) manifest.Attempt {
	return manifest.Attempt{Format: manifest.AttemptFormat, RunID: "run-1", ID: id, Databases: []string{"shop"},
		Compression: "zstd", Streams: []string{"data-1", manifest.Definitions}, StartedAt: "2026-12-07T01:00:00Z"}
}

func index(attemptID string, chunks int) manifest.Index {
	x := manifest.Index{Format: manifest.AttemptFormat, Attempt: attemptID, Stream: "data-1", LongestLine: 100}
	for i := 0; i < chunks; i++ {
		x.Chunks = append(x.Chunks, manifest.Chunk{Object: "runs/run-1/data-1/00000" + string(rune('0'+i)) + ".sql.zst", Bytes: 10, SQLBytes: 20, SHA256: strings.Repeat("a", 64)})
	}
	return x
}

func TestReadsTheAttemptAndItsIndex(t *testing.T) {
	key, _ := seal.NewKey()
	store := memoryStore{
		manifest.AttemptKey("run-1"):         sealed(t, key, manifest.AttemptKey("run-1"), attempt("a1")),
		manifest.IndexKey("run-1", "data-1"): sealed(t, key, manifest.IndexLabel("run-1", "data-1", "a1"), index("a1", 2)),
	}
	got, err := ReadAttempt(context.Background(), store, key, "run-1")
	if err != nil || got.ID != "a1" || got.Failed != "" {
		t.Fatalf("ReadAttempt = %+v, %v", got, err)
	}
	x, err := ReadIndex(context.Background(), store, key, "run-1", "data-1", "a1")
	if err != nil || len(x.Chunks) != 2 || x.LongestLine != 100 {
		t.Fatalf("ReadIndex = %+v, %v", x, err)
	}
	if _, err := ReadIndex(context.Background(), store, key, "run-1", manifest.Definitions, "a1"); !errors.Is(err, errNotFound) {
		t.Fatalf("a stream without an index: %v, want the store's not-found", err)
	}
}

func TestRefusesAnIndexOfAnotherAttempt(t *testing.T) {
	key, _ := seal.NewKey()
	// Sealed for attempt a0 (an earlier dump of the run that failed), read for a1.
	store := memoryStore{manifest.IndexKey("run-1", "data-1"): sealed(t, key, manifest.IndexLabel("run-1", "data-1", "a0"), index("a0", 3))}
	if _, err := ReadIndex(context.Background(), store, key, "run-1", "data-1", "a1"); err == nil || !strings.Contains(err.Error(), "is not attempt a1's") {
		t.Fatalf("an index of another attempt: %v", err)
	}
	// Sealed under a1's label but stating another attempt or stream inside: refused too.
	store[manifest.IndexKey("run-1", "data-1")] = sealed(t, key, manifest.IndexLabel("run-1", "data-1", "a1"), index("a0", 3))
	if _, err := ReadIndex(context.Background(), store, key, "run-1", "data-1", "a1"); err == nil || !strings.Contains(err.Error(), "is not this attempt's") {
		t.Fatalf("an index naming another attempt: %v", err)
	}
	other := index("a1", 1)
	other.Stream = "data-2"
	store[manifest.IndexKey("run-1", "data-1")] = sealed(t, key, manifest.IndexLabel("run-1", "data-1", "a1"), other)
	if _, err := ReadIndex(context.Background(), store, key, "run-1", "data-1", "a1"); err == nil {
		t.Fatal("an index of another stream was taken")
	}
}

func TestRefusesAnAttemptThatDoesNotHangTogether(t *testing.T) {
	key, _ := seal.NewKey()
	for name, change := range map[string]func(*manifest.Attempt){
		"another format":       func(a *manifest.Attempt) { a.Format = "ferry-attempt/0" },
		"another run":          func(a *manifest.Attempt) { a.RunID = "run-2" },
		"no id":                func(a *manifest.Attempt) { a.ID = "" },
		"no databases":         func(a *manifest.Attempt) { a.Databases = nil },
		"no definitions":       func(a *manifest.Attempt) { a.Streams = []string{"data-1"} },
		"definitions not last": func(a *manifest.Attempt) { a.Streams = []string{manifest.Definitions, "data-1"} },
	} {
		a := attempt("a1")
		change(&a)
		store := memoryStore{manifest.AttemptKey("run-1"): sealed(t, key, manifest.AttemptKey("run-1"), a)}
		if _, err := ReadAttempt(context.Background(), store, key, "run-1"); err == nil {
			t.Errorf("%s: taken", name)
		}
	}
	// Sealed under another key (another run's, or not the run key at all): refused.
	otherKey, _ := seal.NewKey()
	store := memoryStore{manifest.AttemptKey("run-1"): sealed(t, otherKey, manifest.AttemptKey("run-1"), attempt("a1"))}
	if _, err := ReadAttempt(context.Background(), store, key, "run-1"); err == nil {
		t.Error("an attempt sealed under another key was taken")
	}
	if _, err := ReadAttempt(context.Background(), memoryStore{}, key, "run-1"); !errors.Is(err, errNotFound) {
		t.Errorf("no attempt stored: %v, want the store's not-found", err)
	}
}
