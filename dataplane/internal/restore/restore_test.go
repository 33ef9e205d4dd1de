package restore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry.local/dataplane/internal/follow"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

func options(t *testing.T, dataDir string) Options {
	t.Helper()
	return Options{DataDir: dataDir, Manifest: manifest.Manifest{RunID: "run-1", Method: manifest.Physical},
		Log: func(string, ...any) {}}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestARestoreStartsOnlyInAnEmptyDataDirectory(t *testing.T) {
	// Absent, empty, or only a filesystem's lost+found: the restore starts.
	for name, setUp := range map[string]func(dir string){
		"absent":     func(dir string) { _ = os.Remove(dir) },
		"empty":      func(string) {},
		"lost+found": func(dir string) { _ = os.Mkdir(filepath.Join(dir, "lost+found"), 0o700) },
	} {
		dir := filepath.Join(t.TempDir(), "data")
		_ = os.Mkdir(dir, 0o750)
		setUp(dir)
		restored, err := options(t, dir).prepareDataDir("run-1")
		if err != nil || restored {
			t.Fatalf("%s: restored %v, %v; want the restore to start", name, restored, err)
		}
	}
}

func TestARestoreNeverWritesOverData(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mysql", "user.frm"), "the user's")
	write(t, filepath.Join(dir, "ibdata1"), "the user's")
	_, err := options(t, dir).prepareDataDir("run-1")
	if err == nil || !strings.Contains(err.Error(), "is not empty (it holds ibdata1, mysql)") {
		t.Fatalf("got %v; want a refusal naming what the directory holds", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "ibdata1")); string(data) != "the user's" {
		t.Fatal("the refused data directory was changed")
	}
}

func TestARefusalNamesFiveEntriesAtMost(t *testing.T) {
	for n, want := range map[int]string{5: "it holds a, b, c, d, e)", 6: "it holds a, b, c, d, e, ...)"} {
		dir := t.TempDir()
		for _, name := range []string{"a", "b", "c", "d", "e", "f"}[:n] {
			write(t, filepath.Join(dir, name), "")
		}
		if _, err := options(t, dir).prepareDataDir("run-1"); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%d entries: %v; want %q", n, err, want)
		}
	}
}

func TestAnUnfinishedRestoreIsStartedAgainFromEmpty(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, unfinished), "run-0\n")
	write(t, filepath.Join(dir, "ibdata1"), "half")
	_ = os.Mkdir(filepath.Join(dir, "lost+found"), 0o700)
	restored, err := options(t, dir).prepareDataDir("run-1")
	if err != nil || restored {
		t.Fatalf("restored %v, %v; want the restore to start again", restored, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "lost+found" {
		t.Fatalf("left %v; want only lost+found", entries)
	}
}

func TestAFinishedRestoreIsKeptAndAnotherRunsRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, done), "run-1\n")
	write(t, filepath.Join(dir, "ibdata1"), "restored, then written by the server")
	restored, err := options(t, dir).prepareDataDir("run-1")
	if err != nil || !restored {
		t.Fatalf("restored %v, %v; want the run found restored", restored, err)
	}
	other := options(t, dir)
	other.Manifest.RunID = "run-2"
	if _, err := other.prepareDataDir("run-2"); err == nil || !strings.Contains(err.Error(), "holds the restore of run run-1, not of run run-2") {
		t.Fatalf("got %v; want another run refused", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "ibdata1")); string(data) != "restored, then written by the server" {
		t.Fatal("a restored data directory was changed")
	}
}

func TestALogicalRunIsNotRestored(t *testing.T) {
	o := options(t, t.TempDir())
	o.Manifest.Method = ""
	if err := Run(t.Context(), o); err == nil || !strings.Contains(err.Error(), "the import step takes it") {
		t.Fatalf("got %v; want a dump of SQL refused", err)
	}
}

func TestARunIsRecordedOnlyFromTheCopyRestored(t *testing.T) {
	chunk := func(i int, sum string) manifest.Chunk {
		return manifest.Chunk{Object: "runs/r/physical/00000" + string(rune('0'+i)) + ".mbstream.zst", Bytes: 10, SQLBytes: 40, SHA256: sum}
	}
	restored := manifest.Index{Chunks: []manifest.Chunk{chunk(0, "aa"), chunk(1, "bb")}}
	of := func(method string, chunks ...manifest.Chunk) manifest.Manifest {
		return manifest.Manifest{RunID: "r", Method: method, Streams: []manifest.Stream{{Name: manifest.Physical, Chunks: chunks}}}
	}
	if err := sameCopy(of(manifest.Physical, chunk(0, "aa"), chunk(1, "bb")), restored); err != nil {
		t.Fatalf("the copy restored refused: %v", err)
	}
	for name, m := range map[string]manifest.Manifest{
		"another chunk's sum":  of(manifest.Physical, chunk(0, "aa"), chunk(1, "cc")),
		"a chunk more":         of(manifest.Physical, chunk(0, "aa"), chunk(1, "bb"), chunk(2, "dd")),
		"a chunk fewer":        of(manifest.Physical, chunk(0, "aa")),
		"the chunks reordered": of(manifest.Physical, chunk(1, "bb"), chunk(0, "aa")),
		"a dump of SQL":        of("", chunk(0, "aa"), chunk(1, "bb")),
	} {
		if err := sameCopy(m, restored); err == nil {
			t.Fatalf("%s: taken for the copy restored", name)
		}
	}
}

// bucket is the copy's index as the dump rewrites it, sealed as the dump seals it.
type bucket struct {
	key   seal.Key
	mu    sync.Mutex
	index []byte
}

var errMissing = errors.New("no such object")

func (b *bucket) ReadAll(_ context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if key != manifest.IndexKey("run-1", manifest.Physical) || b.index == nil {
		return nil, errMissing
	}
	return b.index, nil
}

func (b *bucket) URL(key string) string { return "s3://test/" + key }

func (b *bucket) store(t *testing.T, x manifest.Index) {
	t.Helper()
	x.Format, x.Stream = manifest.AttemptFormat, manifest.Physical
	plain, err := json.Marshal(x)
	if err != nil {
		t.Error(err)
		return
	}
	sealed, err := seal.Bytes(b.key, manifest.IndexLabel("run-1", manifest.Physical, ""), plain)
	if err != nil {
		t.Error(err)
		return
	}
	b.mu.Lock()
	b.index = sealed
	b.mu.Unlock()
}

func TestTheCopysSizeIsTheDumpsEstimateUntilItIsComplete(t *testing.T) {
	chunk := manifest.Chunk{Bytes: 4, SQLBytes: 10}
	for _, c := range []struct {
		index manifest.Index
		want  int64
	}{
		{manifest.Index{Chunks: []manifest.Chunk{chunk}, EstimatedBytes: 100}, 100},
		{manifest.Index{Chunks: []manifest.Chunk{chunk, chunk}, EstimatedBytes: 15}, 20}, // more than estimated
		{manifest.Index{Chunks: []manifest.Chunk{chunk, chunk}, EstimatedBytes: 100, Complete: true}, 20},
		{manifest.Index{Chunks: []manifest.Chunk{chunk}}, 10}, // a dump that gives no estimate
	} {
		if got := expectedBytes(c.index); got != c.want {
			t.Fatalf("%+v: expected %d bytes; want %d", c.index, got, c.want)
		}
	}
}

func TestARestoreBesideTheDumpFollowsTheIndexAsItGrows(t *testing.T) {
	if (*Follow)(nil).chunksOf(&manifest.Index{}) != nil {
		t.Fatal("a restore that does not follow was given the index's chunks")
	}
	one := manifest.Chunk{Object: "runs/run-1/physical/000000.mbstream.zst", SHA256: "aa", Bytes: 1, SQLBytes: 10}
	two := manifest.Chunk{Object: "runs/run-1/physical/000001.mbstream.zst", SHA256: "bb", Bytes: 1, SQLBytes: 20}
	b := &bucket{}
	f := &Follow{Run: follow.Run{Store: b, RunKey: b.key, RunID: "run-1", Missing: func(err error) bool { return errors.Is(err, errMissing) },
		Lasting: func(error) bool { return false }}, Wait: 5 * time.Second, Poll: 10 * time.Millisecond}
	index := manifest.Index{Chunks: []manifest.Chunk{one}}
	source := f.chunksOf(&index)
	if got, ok, err := source(t.Context(), 0); err != nil || !ok || got != one {
		t.Fatalf("chunk 0: %v %v %v", got, ok, err)
	}
	// Chunk 1 is waited for until the dump lists it, then the stream ends where the index says
	// the copy is complete.
	go func() {
		time.Sleep(50 * time.Millisecond)
		b.store(t, manifest.Index{Chunks: []manifest.Chunk{one, two}, Complete: true})
	}()
	if got, ok, err := source(t.Context(), 1); err != nil || !ok || got != two {
		t.Fatalf("chunk 1: %v %v %v", got, ok, err)
	}
	if _, ok, err := source(t.Context(), 2); err != nil || ok {
		t.Fatalf("past the complete copy: %v %v; want its end", ok, err)
	}
	if !index.Complete || f.expected.Load() != 30 {
		t.Fatalf("the index followed is %+v (%d bytes expected); want the complete one, 30", index, f.expected.Load())
	}

	for name, c := range map[string]struct {
		stored manifest.Index
		want   string
	}{
		"another copy":      {manifest.Index{Chunks: []manifest.Chunk{two, one}}, "no longer lists the chunks restored so far"},
		"a failed copy":     {manifest.Index{Chunks: []manifest.Chunk{one}, Failed: "mariadb-backup failed"}, "failed while storing its copy (mariadb-backup failed)"},
		"a copy that stops": {manifest.Index{Chunks: []manifest.Chunk{one}}, "stored no more of its copy for"},
	} {
		b.store(t, c.stored)
		f.Wait = 100 * time.Millisecond
		index := manifest.Index{Chunks: []manifest.Chunk{one}}
		if _, _, err := f.chunksOf(&index)(t.Context(), 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v; want %q", name, err, c.want)
		}
	}
}
