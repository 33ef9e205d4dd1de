package chunks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
	"ferry.local/dataplane/internal/seal"
)

// Downloader reads an object from a byte offset on.
type Downloader interface {
	Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
	URL(key string) string
}

// DamagedError: a stored chunk is not what the manifest says was stored.
type DamagedError struct{ Message string }

func (e *DamagedError) Error() string { return e.Message }

// WriteError: the consumer of the SQL went away or refused it.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return fmt.Sprintf("writing the SQL on: %v", e.Err) }
func (e *WriteError) Unwrap() error { return e.Err }

// Fetcher writes a stream's SQL, chunk by chunk, each checked whole before it is used.
type Fetcher struct {
	Store       Downloader
	RunID       string
	Compression string
	// Dir holds the downloaded chunks, at most two at a time (the one being read, the next).
	Dir string
	// Patience is how long a broken download goes on being resumed, at the byte where it stopped,
	// without receiving a byte: an object store restarted or unreachable for a minute is waited
	// out, one that stays away fails the import with the store's last error.
	Patience time.Duration
	// Stall is how long a download may receive nothing before it counts as broken.
	Stall time.Duration
	// RunKey, when the run's chunks are sealed, opens them (package seal).
	RunKey *seal.Key
	// Downloaded counts the bytes downloaded so far, for progress reports.
	Downloaded *atomic.Int64
	Log        func(format string, args ...any)
}

// The first wait before a broken download is resumed, doubled after each try that received
// nothing, up to maxRetryWait.
const (
	retryWait    = time.Second
	maxRetryWait = 15 * time.Second
	// DefaultPatience outlasts an object store's restart or a minute's network outage.
	DefaultPatience = 5 * time.Minute
)

type downloaded struct {
	path  string
	chunk manifest.Chunk
	err   error
	// end: the source has no more chunks.
	end bool
}

// Source tells a stream's chunks in order: chunk i once it is known (a follower waits here
// until the dump has stored it), ok false once the stream has no chunk i.
type Source func(ctx context.Context, i int) (chunk manifest.Chunk, ok bool, err error)

// Listed is the source of a stream whose chunks are all known (a complete dump's manifest).
func Listed(chunks []manifest.Chunk) Source {
	return func(_ context.Context, i int) (manifest.Chunk, bool, error) {
		if i < len(chunks) {
			return chunks[i], true, nil
		}
		return manifest.Chunk{}, false, nil
	}
}

// Fetch writes the SQL of stream to out.
func (f *Fetcher) Fetch(ctx context.Context, stream manifest.Stream, out io.Writer) error {
	_, err := f.FetchFrom(ctx, Listed(stream.Chunks), out)
	return err
}

// FetchFrom writes the SQL of the chunks source tells, in order, each checked whole before a
// byte of it is written, and returns how many it wrote.
func (f *Fetcher) FetchFrom(ctx context.Context, source Source, out io.Writer) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The next chunk downloads while the current one is decompressed into out.
	next := make(chan downloaded, 1)
	fetchChunk := func(i int) {
		chunk, ok, err := source(ctx, i)
		if err != nil || !ok {
			next <- downloaded{err: err, end: !ok}
			return
		}
		path, err := f.download(ctx, chunk, i)
		next <- downloaded{path: path, chunk: chunk, err: err}
	}
	go fetchChunk(0)
	for i := 0; ; i++ {
		got := <-next
		if got.err != nil {
			return i, got.err
		}
		if got.end {
			return i, nil
		}
		go fetchChunk(i + 1)
		err := f.decompress(got.path, got.chunk, out)
		_ = os.Remove(got.path)
		if err != nil {
			cancel()
			if later := <-next; later.path != "" {
				_ = os.Remove(later.path)
			}
			return i, err
		}
	}
}

// download stores chunk i in a file of Dir and checks its length and sha256.
func (f *Fetcher) download(ctx context.Context, chunk manifest.Chunk, i int) (string, error) {
	path := filepath.Join(f.Dir, fmt.Sprintf("chunk-%06d", i))
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer file.Close()
	hash := sha256.New()
	var offset int64
	lastByte := time.Now()
	wait := retryWait
	for {
		before := offset
		err := f.copyFrom(ctx, chunk.Object, offset, io.MultiWriter(file, hash), &offset)
		if err == nil {
			break
		}
		if ctx.Err() != nil || objstore.Lasting(err) {
			_ = os.Remove(path)
			return "", err
		}
		// While an index is built the import reads nothing for minutes and the store may drop an
		// idle connection, or the store itself restarts; the download goes on from the byte where
		// it stopped: at once after a try that brought bytes, else after a wait that doubles each
		// time nothing came, until nothing has come for longer than the patience.
		if offset > before {
			lastByte, wait = time.Now(), retryWait
			f.Log("the download of %s broke off at byte %d (%v); resuming", f.Store.URL(chunk.Object), offset, err)
			continue
		}
		if time.Since(lastByte)+wait > f.Patience {
			_ = os.Remove(path)
			return "", fmt.Errorf("downloading %s failed (nothing received for %s; the object store's last answer: %v)",
				f.Store.URL(chunk.Object), time.Since(lastByte).Round(time.Second), err)
		}
		f.Log("the download of %s broke off at byte %d (%v); resuming in %s", f.Store.URL(chunk.Object), offset, err, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, maxRetryWait)
	}
	sum := hex.EncodeToString(hash.Sum(nil))
	if sum != chunk.SHA256 || offset != chunk.Bytes {
		_ = os.Remove(path)
		return "", &DamagedError{fmt.Sprintf("checksum mismatch: %s has sha256 %s (%d bytes) but the manifest of run %s says %s (%d bytes); the stored dump is damaged. Dump again under a new ferry:migration.runId.",
			f.Store.URL(chunk.Object), sum, offset, f.RunID, chunk.SHA256, chunk.Bytes)}
	}
	return path, nil
}

func (f *Fetcher) copyFrom(ctx context.Context, key string, offset int64, w io.Writer, done *int64) (err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// A download always wants data: receiving nothing for Stall means the connection is dead.
	dog, stopGuard := guard(f.stall(), "the download of "+key, cancel)
	defer stopGuard()
	dog.busy.Store(true)
	defer func() {
		if err != nil && context.Cause(ctx) != nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}()
	body, err := f.Store.Get(ctx, key, offset)
	if err != nil {
		return err
	}
	defer body.Close()
	buffer := make([]byte, 256<<10)
	for {
		n, readErr := body.Read(buffer)
		dog.progress()
		if n > 0 {
			if _, err := w.Write(buffer[:n]); err != nil {
				return err
			}
			*done += int64(n)
			if f.Downloaded != nil {
				f.Downloaded.Add(int64(n))
			}
		}
		if readErr == io.EOF {
			return nil
		}
		if readErr != nil {
			return readErr
		}
	}
}

func (f *Fetcher) stall() time.Duration {
	if f.Stall > 0 {
		return f.Stall
	}
	return DefaultDownloadStall
}

func (f *Fetcher) decompress(path string, chunk manifest.Chunk, out io.Writer) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	var stored io.Reader = file
	if f.RunKey != nil {
		opened, err := seal.NewReader(file, *f.RunKey, chunk.Object)
		if err != nil {
			return &DamagedError{fmt.Sprintf("%s: %v", f.Store.URL(chunk.Object), err)}
		}
		stored = opened
	}
	var reader io.Reader
	switch f.Compression {
	case "zstd":
		decoder, err := zstd.NewReader(stored, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return err
		}
		defer decoder.Close()
		reader = decoder
	case "gzip":
		decoder, err := gzip.NewReader(stored)
		if err != nil {
			return &DamagedError{fmt.Sprintf("decompressing %s failed: %v", f.Store.URL(chunk.Object), err)}
		}
		defer decoder.Close()
		reader = decoder
	default:
		return fmt.Errorf("the manifest names an unknown compression %q", f.Compression)
	}
	written, err := copyTo(out, reader)
	if err != nil {
		var writeErr *WriteError
		if errors.As(err, &writeErr) {
			return err
		}
		if errors.Is(err, seal.ErrRefused) {
			return &DamagedError{fmt.Sprintf("%s: %v", f.Store.URL(chunk.Object), err)}
		}
		return &DamagedError{fmt.Sprintf("decompressing %s failed: %v", f.Store.URL(chunk.Object), err)}
	}
	if written != chunk.SQLBytes {
		return &DamagedError{fmt.Sprintf("%s holds %d bytes of SQL but the manifest says %d", f.Store.URL(chunk.Object), written, chunk.SQLBytes)}
	}
	return nil
}

// copyTo tells a failure to read (a damaged frame) from a failure to write (the importer).
func copyTo(out io.Writer, in io.Reader) (int64, error) {
	buffer := make([]byte, 256<<10)
	var total int64
	for {
		n, readErr := in.Read(buffer)
		if n > 0 {
			if _, err := out.Write(buffer[:n]); err != nil {
				return total, &WriteError{err}
			}
			total += int64(n)
		}
		if readErr == io.EOF {
			return total, nil
		}
		if readErr != nil {
			return total, readErr
		}
	}
}
