// Package chunks stores a stream of SQL as compressed chunks and reads it back. A chunk is a run
// of whole lines, compressed as one frame (zstd or gzip), stored as one object with its own
// sha256: a reader checks each chunk before it uses a byte of it, and a later import can follow a
// dump or resume chunk by chunk.
package chunks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

// Uploader stores one object of unknown length (size -1) and says how many bytes it stored.
type Uploader interface {
	Put(ctx context.Context, key string, body io.Reader, size int64) (int64, error)
}

// UploadError is a failure of the object store, told apart from one of the stream's source.
type UploadError struct {
	Key string
	Err error
}

func (e *UploadError) Error() string { return fmt.Sprintf("storing %s: %v", e.Key, e.Err) }
func (e *UploadError) Unwrap() error { return e.Err }

// Extension is the file name suffix of a chunk compressed with compression.
func Extension(compression string) (string, error) {
	switch compression {
	case "zstd":
		return "zst", nil
	case "gzip":
		return "gz", nil
	}
	return "", fmt.Errorf("COMPRESSION must be gzip or zstd, not %q (ferry:migration.compression)", compression)
}

// Compressor names the library and version that compresses, for the manifest.
func Compressor(compression string) string {
	version := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/klauspost/compress" {
				version = dep.Version
			}
		}
	}
	return fmt.Sprintf("github.com/klauspost/compress %s (%s, fastest level, one thread)", version, compression)
}

type frameWriter interface {
	io.WriteCloser
}

func newFrame(compression string, w io.Writer, threads int) (frameWriter, error) {
	switch compression {
	case "zstd":
		// One thread and a 1 MiB window: a stream's compressor holds a few MiB, and the streams
		// themselves spread the work over the cores (measured in bench/); a writer that is the only
		// stream asks for more (Threads).
		// Entropy coding of literals even where nothing repeats: a hex-encoded BLOB of compressed
		// bytes (an image, an archive) then halves instead of being stored as it is.
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(max(1, threads)),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true), zstd.WithAllLitEntropyCompression(true))
	case "gzip":
		return gzip.NewWriterLevel(w, gzip.BestSpeed)
	}
	_, err := Extension(compression)
	return nil, err
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// Writer cuts what it is given into chunks of about Target compressed bytes, each ending at the
// end of a line (or anywhere, CutAnywhere), and stores each under Key(i). Close stores the last
// one.
type Writer struct {
	ctx         context.Context
	store       Uploader
	compression string
	target      int64
	stall       time.Duration
	runKey      *seal.Key
	key         func(i int) string
	// SQL counts the uncompressed bytes taken so far, for progress reports; safe to read any time.
	SQL atomic.Int64
	// Stored, when set, is told every chunk stored so far (and the longest line written so far)
	// each time one more is, before the next chunk takes a byte; its error stops the writer.
	Stored func(chunks []manifest.Chunk, longestLine int64) error
	// anywhere cuts a chunk at the first write after it reached its size, wherever that falls: a
	// binary stream (a physical backup's) has no lines, and its reader joins the chunks again.
	anywhere bool
	// threads compress each chunk (zstd); 1 unless the writer is told more.
	threads int
	// line is the length of the line being written; longest the longest line so far.
	line, longest int64

	chunks []manifest.Chunk
	// The chunk being written: its frame writes into pipe (the upload reads it), hash and size.
	frame    frameWriter
	pipe     *io.PipeWriter
	hash     hashWriter
	size     counter
	sqlBytes int64
	upload   chan uploadResult
	result   *uploadResult
	cutSoon  bool
	sealer   *seal.Writer
	err      error
}

// guardedWriter tells the watchdog when a write is waiting and when it got through.
type guardedWriter struct {
	w   io.Writer
	dog *watchdog
}

func (g guardedWriter) Write(p []byte) (int, error) {
	g.dog.progress()
	g.dog.busy.Store(true)
	defer g.dog.busy.Store(false)
	return g.w.Write(p)
}

type hashWriter struct {
	h interface{ Sum([]byte) []byte }
}

type uploadResult struct {
	stored int64
	err    error
}

// Option changes how a Writer cuts or compresses.
type Option func(*Writer)

// CutAnywhere cuts each chunk at the first write after it reached its size, wherever that falls
// (a binary stream: it has no lines).
func CutAnywhere() Option { return func(w *Writer) { w.anywhere = true } }

// Threads compresses with n threads (zstd): for a writer that is the step's only stream.
func Threads(n int) Option { return func(w *Writer) { w.threads = n } }

// NewWriter starts the first chunk. An upload that takes no data for stall is abandoned. With a
// run key, each chunk is sealed with it (package seal) after compression, labelled with its key.
func NewWriter(ctx context.Context, store Uploader, compression string, target int64, stall time.Duration, runKey *seal.Key, key func(i int) string, options ...Option) (*Writer, error) {
	if _, err := Extension(compression); err != nil {
		return nil, err
	}
	w := &Writer{ctx: ctx, store: store, compression: compression, target: target, stall: stall, runKey: runKey, key: key, threads: 1}
	for _, option := range options {
		option(w)
	}
	return w, w.start()
}

func (w *Writer) start() error {
	reader, pipe := io.Pipe()
	hash := sha256.New()
	w.size = counter{}
	ctx, cancel := context.WithCancelCause(w.ctx)
	key := w.key(len(w.chunks))
	// A write into the pipe blocks while the upload takes nothing: that, and only that, is a stall
	// (a dump tool that is slow to write is not).
	dog, stopGuard := guard(w.stall, "the upload of "+key, cancel)
	upload := make(chan uploadResult, 1)
	w.pipe, w.upload, w.result = pipe, upload, nil
	// The upload reads from the start: a sealed chunk's header is written at once.
	go func() {
		defer cancel(nil)
		stored, err := w.store.Put(ctx, key, reader, -1)
		stopGuard()
		if err != nil && context.Cause(ctx) != nil && w.ctx.Err() == nil {
			err = context.Cause(ctx)
		}
		// Whatever happened, the writer side must not block on a reader that is gone.
		_ = reader.CloseWithError(io.ErrClosedPipe)
		upload <- uploadResult{stored, err}
	}()
	var stored io.Writer = io.MultiWriter(guardedWriter{pipe, dog}, hash, &w.size)
	w.sealer = nil
	if w.runKey != nil {
		sealer, err := seal.NewWriter(stored, *w.runKey, key)
		if err != nil {
			return w.failed(err)
		}
		w.sealer, stored = sealer, sealer
	}
	frame, err := newFrame(w.compression, stored, w.threads)
	if err != nil {
		return w.failed(err)
	}
	w.frame, w.hash, w.sqlBytes, w.cutSoon = frame, hashWriter{hash}, 0, false
	return nil
}

// uploaded waits for the current chunk's upload to end, once.
func (w *Writer) uploaded() uploadResult {
	if w.result == nil {
		result := <-w.upload
		w.result = &result
	}
	return *w.result
}

// finish ends the current chunk's frame and waits until it is stored.
func (w *Writer) finish() error {
	key := w.key(len(w.chunks))
	closeErr := w.frame.Close()
	if closeErr == nil && w.sealer != nil {
		closeErr = w.sealer.Close()
	}
	_ = w.pipe.Close()
	result := w.uploaded()
	if result.err != nil {
		return &UploadError{Key: key, Err: result.err}
	}
	if closeErr != nil {
		return &UploadError{Key: key, Err: closeErr}
	}
	if result.stored != w.size.n {
		return &UploadError{Key: key, Err: fmt.Errorf("the object store kept %d bytes of %d", result.stored, w.size.n)}
	}
	w.chunks = append(w.chunks, manifest.Chunk{Object: key, Bytes: w.size.n, SQLBytes: w.sqlBytes,
		SHA256: hex.EncodeToString(w.hash.h.Sum(nil))})
	if w.Stored != nil {
		if err := w.Stored(w.chunks, w.longest); err != nil {
			return err
		}
	}
	return nil
}

// failed ends the current chunk after a write into its pipe failed. The pipe fails when the upload
// has ended, so the upload's error, when there is one, is the cause to report.
func (w *Writer) failed(err error) error {
	_ = w.pipe.CloseWithError(err)
	if result := w.uploaded(); result.err != nil {
		return &UploadError{Key: w.key(len(w.chunks)), Err: result.err}
	}
	return &UploadError{Key: w.key(len(w.chunks)), Err: err}
}

func (w *Writer) put(p []byte) error {
	if _, err := w.frame.Write(p); err != nil {
		return w.failed(err)
	}
	w.sqlBytes += int64(len(p))
	w.SQL.Add(int64(len(p)))
	if w.size.n >= w.target {
		w.cutSoon = true
	}
	return nil
}

// Write takes SQL; once the chunk has reached its size it is cut after the next newline (with
// CutAnywhere, before this write).
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.measure(p)
	written := 0
	for len(p) > 0 {
		cut := -1
		if w.cutSoon && w.anywhere {
			if w.err = w.next(); w.err != nil {
				return written, w.err
			}
		}
		if w.cutSoon {
			cut = bytes.IndexByte(p, '\n')
		}
		if cut < 0 {
			if w.err = w.put(p); w.err != nil {
				return written, w.err
			}
			return written + len(p), nil
		}
		if w.err = w.put(p[:cut+1]); w.err != nil {
			return written, w.err
		}
		written += cut + 1
		p = p[cut+1:]
		if w.err = w.next(); w.err != nil {
			return written, w.err
		}
	}
	return written, nil
}

// next stores the current chunk and starts the next one.
func (w *Writer) next() error {
	if err := w.finish(); err != nil {
		return err
	}
	return w.start()
}

// measure follows the lines of p, for LongestLine.
func (w *Writer) measure(p []byte) {
	for {
		end := bytes.IndexByte(p, '\n')
		if end < 0 {
			w.line += int64(len(p))
			w.longest = max(w.longest, w.line)
			return
		}
		w.longest = max(w.longest, w.line+int64(end))
		w.line = 0
		p = p[end+1:]
	}
}

// LongestLine is the longest line written, in bytes without its line break.
func (w *Writer) LongestLine() int64 { return w.longest }

// Close stores the last chunk and returns every chunk stored.
func (w *Writer) Close() ([]manifest.Chunk, error) {
	if w.err != nil {
		return nil, w.err
	}
	if err := w.finish(); err != nil {
		return nil, err
	}
	return w.chunks, nil
}

// Abort ends the current upload without storing a complete chunk.
func (w *Writer) Abort(cause error) {
	if w.pipe != nil {
		_ = w.pipe.CloseWithError(cause)
		w.uploaded()
	}
}
