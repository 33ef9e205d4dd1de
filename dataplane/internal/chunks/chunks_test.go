package chunks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

// memoryStore is an object store in memory; failAfter > 0 makes an upload fail once it has
// read that many bytes.
type memoryStore struct {
	mu        sync.Mutex
	objects   map[string][]byte
	failAfter int64
}

func (s *memoryStore) Put(_ context.Context, key string, body io.Reader, _ int64) (int64, error) {
	var data []byte
	var err error
	if s.failAfter < 0 {
		return 0, errors.New("connection refused")
	}
	if s.failAfter > 0 {
		data, err = io.ReadAll(io.LimitReader(body, s.failAfter))
		if err == nil {
			err = errors.New("connection reset by peer")
		}
	} else {
		data, err = io.ReadAll(body)
	}
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = data
	return int64(len(data)), nil
}

func (s *memoryStore) Get(_ context.Context, key string, offset int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	if !ok {
		return nil, errors.New("The specified key does not exist.")
	}
	return io.NopCloser(bytes.NewReader(data[offset:])), nil
}

func (s *memoryStore) URL(key string) string { return "s3://test/" + key }

// sqlText is lines of varied length and compressibility, as a dump has.
func sqlText(lines int) []byte {
	random := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&b, "INSERT INTO `t` VALUES (%d,'", i)
		for j := random.Intn(400); j > 0; j-- {
			b.WriteByte(byte('a' + random.Intn(26)))
		}
		b.WriteString("');\n")
	}
	return b.Bytes()
}

func store(t *testing.T, s *memoryStore, compression string, text []byte) manifest.Stream {
	t.Helper()
	w, err := NewWriter(context.Background(), s, compression, 16<<10, time.Minute, nil, func(i int) string {
		return fmt.Sprintf("runs/r/data-1/%06d.sql", i)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, as a pipe delivers them; each taken whole, as io.Writer promises.
	for rest := text; len(rest) > 0; {
		n := min(len(rest), 1000+len(rest)%7777)
		if written, err := w.Write(rest[:n]); err != nil || written != n {
			t.Fatalf("a write of %d bytes took %d (%v)", n, written, err)
		}
		rest = rest[n:]
	}
	chunks, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return manifest.Stream{Name: "data-1", Chunks: chunks}
}

func fetch(t *testing.T, s *memoryStore, compression string, stream manifest.Stream) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	f := &Fetcher{Store: s, RunID: "r", Compression: compression, Dir: t.TempDir(), Patience: 3 * time.Second,
		Log: func(string, ...any) {}}
	err := f.Fetch(context.Background(), stream, &out)
	return out.Bytes(), err
}

func TestRoundTripInWholeLineChunks(t *testing.T) {
	text := sqlText(5000)
	for _, compression := range []string{"zstd", "gzip"} {
		s := &memoryStore{objects: map[string][]byte{}}
		stream := store(t, s, compression, text)
		if len(stream.Chunks) < 5 {
			t.Fatalf("%s: %d chunks of %d bytes of SQL; want several", compression, len(stream.Chunks), len(text))
		}
		var sqlBytes int64
		for _, c := range stream.Chunks {
			sqlBytes += c.SQLBytes
			if c.Bytes != int64(len(s.objects[c.Object])) {
				t.Fatalf("%s: chunk %s records %d bytes, stored %d", compression, c.Object, c.Bytes, len(s.objects[c.Object]))
			}
		}
		// A chunk is cut at the first line end once it holds its target (16 KiB stored), not before.
		for i, c := range stream.Chunks[:len(stream.Chunks)-1] {
			if c.Bytes < 16<<10 {
				t.Fatalf("%s: chunk %d holds %d bytes, less than its target", compression, i, c.Bytes)
			}
		}
		if sqlBytes != int64(len(text)) {
			t.Fatalf("%s: chunks hold %d bytes of SQL, want %d", compression, sqlBytes, len(text))
		}
		got, err := fetch(t, s, compression, stream)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, text) {
			t.Fatalf("%s: the SQL read back differs", compression)
		}
		// Each chunk alone is whole lines.
		for i, c := range stream.Chunks {
			one, err := fetch(t, s, compression, manifest.Stream{Chunks: []manifest.Chunk{c}})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(one, []byte(";\n")) {
				t.Fatalf("%s: chunk %d does not end at the end of a line", compression, i)
			}
		}
	}
}

func TestABinaryStreamIsCutAnywhereAndReadBackWhole(t *testing.T) {
	// Bytes without a line break, as a physical backup's stream may run for megabytes.
	random := rand.New(rand.NewSource(2))
	data := make([]byte, 1<<20)
	random.Read(data)
	for i := range data {
		if data[i] == '\n' {
			data[i] = 0
		}
	}
	s := &memoryStore{objects: map[string][]byte{}}
	w, err := NewWriter(context.Background(), s, "zstd", 16<<10, time.Minute, nil, func(i int) string {
		return fmt.Sprintf("runs/r/physical/%06d.mbstream.zst", i)
	}, CutAnywhere(), Threads(2))
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 5000)
		if written, err := w.Write(rest[:n]); err != nil || written != n {
			t.Fatalf("a write of %d bytes took %d (%v)", n, written, err)
		}
		rest = rest[n:]
	}
	stored, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The compressor holds back a block (128 KiB) a thread before the stored size grows, so a chunk
	// is cut some way past its target; without a line break to wait for, it is cut all the same.
	if len(stored) < 3 {
		t.Fatalf("%d chunk(s) of a 1 MiB stream without line breaks; want it cut past each 16 KiB stored", len(stored))
	}
	got, err := fetch(t, s, "zstd", manifest.Stream{Chunks: stored})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the stream read back differs from the stream stored")
	}
}

func TestRefusesAChangedOrTruncatedChunkBeforeUsingIt(t *testing.T) {
	text := sqlText(3000)
	for name, damage := range map[string]func([]byte) []byte{
		"one bit flipped": func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c },
		"truncated":       func(b []byte) []byte { return b[:len(b)*6/10] },
		"swapped":         nil,
	} {
		s := &memoryStore{objects: map[string][]byte{}}
		stream := store(t, s, "zstd", text)
		second := stream.Chunks[1].Object
		if damage != nil {
			s.objects[second] = damage(s.objects[second])
		} else {
			s.objects[second] = s.objects[stream.Chunks[2].Object]
		}
		got, err := fetch(t, s, "zstd", stream)
		var damaged *DamagedError
		if !errors.As(err, &damaged) || !strings.Contains(err.Error(), "checksum mismatch: s3://test/"+second) {
			t.Fatalf("%s: got %v, want a checksum mismatch naming %s", name, err, second)
		}
		// Nothing of the damaged chunk was passed on: only the whole first chunk.
		if int64(len(got)) != stream.Chunks[0].SQLBytes {
			t.Fatalf("%s: %d bytes passed on, want exactly the first chunk's %d", name, len(got), stream.Chunks[0].SQLBytes)
		}
	}
}

func TestAFailedUploadIsAnUploadError(t *testing.T) {
	runKey := seal.Key{}
	for _, c := range []struct {
		name      string
		failAfter int64
		key       *seal.Key
		cause     string
	}{
		{"reset midway", 4096, nil, "connection reset by peer"},
		{"reset midway, sealed", 4096, &runKey, "connection reset by peer"},
		// The sealed chunk's header is written before any SQL: the store's refusal, not the
		// closed pipe it leaves, is what the error says.
		{"refused at once", -1, nil, "connection refused"},
		{"refused at once, sealed", -1, &runKey, "connection refused"},
	} {
		s := &memoryStore{objects: map[string][]byte{}, failAfter: c.failAfter}
		w, err := NewWriter(context.Background(), s, "zstd", 1<<30, time.Minute, c.key, func(i int) string { return "runs/r/x" })
		if err == nil {
			_, err = w.Write(sqlText(20000))
		}
		if err == nil {
			_, err = w.Close()
		}
		var upload *UploadError
		if !errors.As(err, &upload) || !strings.Contains(err.Error(), c.cause) {
			t.Errorf("%s: got %v, want the store's error (%s) as an UploadError", c.name, err, c.cause)
		}
	}
}

// stuckStore takes a connection and then nothing more, as a paused object store does.
type stuckStore struct{ memoryStore }

func (s *stuckStore) Put(ctx context.Context, _ string, _ io.Reader, _ int64) (int64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

type stuckBody struct{ ctx context.Context }

func (b stuckBody) Read([]byte) (int, error) { <-b.ctx.Done(); return 0, b.ctx.Err() }
func (b stuckBody) Close() error             { return nil }

func (s *stuckStore) Get(ctx context.Context, _ string, _ int64) (io.ReadCloser, error) {
	return stuckBody{ctx}, nil
}

func TestAStalledTransferIsAbandonedNamingTheStall(t *testing.T) {
	s := &stuckStore{memoryStore{objects: map[string][]byte{}}}
	w, err := NewWriter(context.Background(), s, "gzip", 1<<30, 300*time.Millisecond, nil, func(int) string { return "runs/r/data-1/000000.sql.gz" })
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(sqlText(50000))
	if err == nil {
		_, err = w.Close()
	}
	var upload *UploadError
	if !errors.As(err, &upload) || !strings.Contains(err.Error(), "the upload of runs/r/data-1/000000.sql.gz made no progress for 300ms") {
		t.Fatalf("upload: got %v", err)
	}
	f := &Fetcher{Store: s, RunID: "r", Compression: "gzip", Dir: t.TempDir(), Patience: time.Second,
		Stall: 300 * time.Millisecond, Log: func(string, ...any) {}}
	err = f.Fetch(context.Background(), manifest.Stream{Chunks: []manifest.Chunk{{Object: "runs/r/x"}}}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the download of runs/r/x made no progress for 300ms") {
		t.Fatalf("download: got %v", err)
	}
}

func TestSealedChunksOpenOnlyWithTheRunKey(t *testing.T) {
	key, _ := seal.NewKey()
	other, _ := seal.NewKey()
	text := sqlText(3000)
	s := &memoryStore{objects: map[string][]byte{}}
	w, err := NewWriter(context.Background(), s, "zstd", 16<<10, time.Minute, &key, func(i int) string {
		return fmt.Sprintf("runs/r/data-1/%06d.sql.zst", i)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatal(err)
	}
	stored, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	stream := manifest.Stream{Name: "data-1", Chunks: stored}
	for _, c := range stored {
		if bytes.Contains(s.objects[c.Object], []byte("INSERT INTO")) {
			t.Fatal("a sealed chunk shows its SQL")
		}
	}
	fetch := func(k *seal.Key) ([]byte, error) {
		var out bytes.Buffer
		f := &Fetcher{Store: s, RunID: "r", Compression: "zstd", Dir: t.TempDir(), Patience: time.Second,
			RunKey: k, Log: func(string, ...any) {}}
		err := f.Fetch(context.Background(), stream, &out)
		return out.Bytes(), err
	}
	if got, err := fetch(&key); err != nil || !bytes.Equal(got, text) {
		t.Fatalf("with the run key: %v", err)
	}
	// A manifest forged to match the stored bytes still cannot make another key's chunks open.
	got, err := fetch(&other)
	var damaged *DamagedError
	if !errors.As(err, &damaged) || !strings.Contains(err.Error(), "does not open with the run's key") || len(got) != 0 {
		t.Fatalf("with another key: %d bytes, %v", len(got), err)
	}
}

// downStore is an object store that is down (every Get fails, no byte sent) until `up`, and whose
// reads break off after every `burst` bytes while it is up, as a restarting server's would.
type downStore struct {
	memoryStore
	up    time.Time
	burst int
	gets  atomic.Int64
}

func (s *downStore) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	s.gets.Add(1)
	if time.Now().Before(s.up) {
		return nil, errors.New("connection refused")
	}
	body, err := s.memoryStore.Get(ctx, key, offset)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(&brokenReader{body, s.burst}), nil
}

type brokenReader struct {
	r    io.Reader
	left int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	p = p[:min(len(p), b.left)]
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func TestADownloadWaitsOutAStoreThatIsAwayForLessThanItsPatience(t *testing.T) {
	text := sqlText(3000)
	s := &downStore{memoryStore: memoryStore{objects: map[string][]byte{}}, burst: 1 << 30}
	stream := store(t, &s.memoryStore, "zstd", text)
	// Away for 2.5 s: retries at 1 s and 2 s find it down, the one after comes back with the rest.
	s.up = time.Now().Add(2500 * time.Millisecond)
	var lines []string
	f := &Fetcher{Store: s, RunID: "r", Compression: "zstd", Dir: t.TempDir(), Patience: 10 * time.Second,
		Log: func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }}
	var out bytes.Buffer
	if err := f.Fetch(context.Background(), stream, &out); err != nil || !bytes.Equal(out.Bytes(), text) {
		t.Fatalf("got %d of %d bytes, %v", out.Len(), len(text), err)
	}
	if len(lines) < 2 || !strings.Contains(lines[0], "connection refused); resuming in 1s") ||
		!strings.Contains(lines[1], "resuming in 2s") {
		t.Fatalf("the retries' lines: %q", lines)
	}
}

func TestADownloadThatReceivesBytesKeepsItsPatience(t *testing.T) {
	// A store that breaks every read after 4 KiB: each try brings bytes, so the clock restarts and
	// the download completes however many breaks it takes, each resumed at once.
	text := sqlText(3000)
	s := &downStore{memoryStore: memoryStore{objects: map[string][]byte{}}, burst: 4 << 10}
	stream := store(t, &s.memoryStore, "gzip", text)
	f := &Fetcher{Store: s, RunID: "r", Compression: "gzip", Dir: t.TempDir(), Patience: 1500 * time.Millisecond,
		Log: func(string, ...any) {}}
	start := time.Now()
	var out bytes.Buffer
	if err := f.Fetch(context.Background(), stream, &out); err != nil || !bytes.Equal(out.Bytes(), text) {
		t.Fatalf("got %d of %d bytes, %v", out.Len(), len(text), err)
	}
	if s.gets.Load() < 4 {
		t.Fatalf("%d reads: the store did not break as meant", s.gets.Load())
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("%d reads took %s: a try that brought bytes is resumed at once", s.gets.Load(), took)
	}
}

func TestADownloadGivesUpOnAStoreAwayLongerThanItsPatience(t *testing.T) {
	s := &downStore{memoryStore: memoryStore{objects: map[string][]byte{}}, up: time.Now().Add(time.Hour)}
	f := &Fetcher{Store: s, RunID: "r", Compression: "zstd", Dir: t.TempDir(), Patience: 2 * time.Second,
		Log: func(string, ...any) {}}
	start := time.Now()
	err := f.Fetch(context.Background(), manifest.Stream{Chunks: []manifest.Chunk{{Object: "runs/r/x"}}}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "downloading s3://test/runs/r/x failed (nothing received for 1s; the object store's last answer: connection refused)") {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("gave up after %s, patience 2s", took)
	}
}

// refusingStore refuses every read with an error that says it will not pass with waiting, as the
// store's client marks a refused TLS certificate.
type refusingStore struct{ memoryStore }

type lastingError struct{}

func (lastingError) Error() string { return "x509: certificate signed by unknown authority" }
func (lastingError) Lasting() bool { return true }

func (s *refusingStore) Get(context.Context, string, int64) (io.ReadCloser, error) {
	return nil, fmt.Errorf("get: %w", lastingError{})
}

func TestADownloadDoesNotWaitOutALastingRefusal(t *testing.T) {
	s := &refusingStore{memoryStore{objects: map[string][]byte{}}}
	var lines []string
	f := &Fetcher{Store: s, RunID: "r", Compression: "zstd", Dir: t.TempDir(), Patience: 10 * time.Second,
		Log: func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }}
	start := time.Now()
	err := f.Fetch(context.Background(), manifest.Stream{Chunks: []manifest.Chunk{{Object: "runs/r/x"}}}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > time.Second || len(lines) != 0 {
		t.Fatalf("a lasting refusal was retried for %s: %q", took, lines)
	}
}

func TestTheLongestLineIsMeasuredAcrossWrites(t *testing.T) {
	long := "INSERT INTO t VALUES ('" + strings.Repeat("x", 40000) + "');"
	text := "CREATE TABLE t (a TEXT);\n" + long + "\nINSERT INTO t VALUES ('y');\n" + strings.Repeat("z", 40100)
	for _, pieces := range []int{1, 3, 977, len(text)} {
		w, err := NewWriter(context.Background(), &memoryStore{objects: map[string][]byte{}}, "zstd", 16<<10, time.Minute, nil, func(i int) string {
			return fmt.Sprintf("runs/r/data-1/%06d.sql", i)
		})
		if err != nil {
			t.Fatal(err)
		}
		for rest := []byte(text); len(rest) > 0; {
			n := min(len(rest), pieces)
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		// The unended last line counts too.
		if got, want := w.LongestLine(), int64(40100); got != want {
			t.Errorf("writes of %d bytes: longest line %d, want %d", pieces, got, want)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := NewWriter(context.Background(), &memoryStore{objects: map[string][]byte{}}, "zstd", 16<<10, time.Minute, nil, func(i int) string { return "k" })
	_, _ = w.Write([]byte("ab\n" + long + "\n" + "cd\n"))
	if got := w.LongestLine(); got != int64(len(long)) {
		t.Errorf("longest line %d, want %d (its line break not counted)", got, len(long))
	}
}

// slowStore takes each upload a little at a time: slow, never stalled.
type slowStore struct{ memoryStore }

func (s *slowStore) Put(ctx context.Context, key string, body io.Reader, size int64) (int64, error) {
	var data []byte
	piece := make([]byte, 512)
	for {
		n, err := body.Read(piece)
		data = append(data, piece[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.memoryStore.Put(ctx, key, bytes.NewReader(data), size)
}

// An upload that goes on slowly, never still for its stall limit, is not abandoned, however
// long it takes in all.
func TestASlowUploadThatProgressesIsNotAbandoned(t *testing.T) {
	s := &slowStore{memoryStore{objects: map[string][]byte{}}}
	w, err := NewWriter(context.Background(), s, "gzip", 1<<30, 200*time.Millisecond, nil, func(int) string { return "runs/r/data-1/000000.sql.gz" })
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if _, err := w.Write(randomLines(40 << 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatalf("abandoned after %s: %v", time.Since(started), err)
	}
	if time.Since(started) < 400*time.Millisecond {
		t.Fatalf("the upload took %s: not slow enough to say anything", time.Since(started))
	}
}

// randomLines is n bytes of SQL-like lines that do not compress.
func randomLines(n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		line := make([]byte, 60)
		_, _ = rand.Read(line)
		out = append(out, []byte(fmt.Sprintf("INSERT INTO t VALUES ('%x');\n", line))...)
	}
	return out
}

func TestEachStoredChunkIsToldBeforeTheNextTakesAByte(t *testing.T) {
	s := &memoryStore{objects: map[string][]byte{}}
	var told [][]manifest.Chunk
	var longest []int64
	w, err := NewWriter(context.Background(), s, "zstd", 16<<10, time.Minute, nil, func(i int) string {
		return fmt.Sprintf("runs/r/data-1/%06d.sql", i)
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Stored = func(chunks []manifest.Chunk, longestLine int64) error {
		// Each chunk told is stored already, whole.
		last := chunks[len(chunks)-1]
		if int64(len(s.objects[last.Object])) != last.Bytes {
			t.Errorf("chunk %s told before it was stored", last.Object)
		}
		told = append(told, append([]manifest.Chunk(nil), chunks...))
		longest = append(longest, longestLine)
		return nil
	}
	text := sqlText(3000)
	for rest := text; len(rest) > 0; {
		n := min(len(rest), 1000+len(rest)%7777)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	stored, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) < 3 || len(told) != len(stored) {
		t.Fatalf("%d chunks stored, %d told", len(stored), len(told))
	}
	for i := range told {
		if len(told[i]) != i+1 || told[i][i] != stored[i] {
			t.Fatalf("telling %d: %d chunks, the last %+v; want the first %d, the last %+v", i, len(told[i]), told[i][len(told[i])-1], i+1, stored[i])
		}
	}
	if longest[len(longest)-1] != w.LongestLine() {
		t.Fatalf("the last telling's longest line is %d, the writer's %d", longest[len(longest)-1], w.LongestLine())
	}

	// Its error stops the writer: nothing more is taken.
	refused := errors.New("the index could not be stored")
	w, _ = NewWriter(context.Background(), &memoryStore{objects: map[string][]byte{}}, "zstd", 16<<10, time.Minute, nil, func(i int) string {
		return fmt.Sprintf("runs/r/data-1/%06d.sql", i)
	})
	w.Stored = func([]manifest.Chunk, int64) error { return refused }
	var writeErr error
	for rest := text; len(rest) > 0 && writeErr == nil; {
		n := min(len(rest), 1000+len(rest)%7777)
		_, writeErr = w.Write(rest[:n])
		rest = rest[n:]
	}
	if !errors.Is(writeErr, refused) {
		t.Fatalf("a write past a refused telling: %v", writeErr)
	}
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, refused) {
		t.Fatalf("a later write: %v", err)
	}
}
