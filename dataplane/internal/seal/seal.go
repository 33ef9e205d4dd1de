// Package seal encrypts and authenticates what the data plane stores in the bucket, with the run's
// key, so that the bucket is untrusted transit: its content alone reveals nothing, and a changed,
// truncated, reordered, swapped or replayed object is refused.
//
// A sealed object is a header (a magic line and a random 16-byte salt) and records of up to
// RecordSize bytes, each sealed with AES-256-GCM under a key derived for this one object:
// HMAC-SHA256(run key, label || salt), where the label names the object (its run and key). A
// record's nonce is its 88-bit number and a last-record flag (as in the STREAM construction of
// Hoang, Reyhanitabar, Rogaway and Vizár, used by age), so records cannot be dropped, repeated or
// reordered, and the end cannot be cut off. The salt makes every object's key new even when a
// re-run writes the same label again.
package seal

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// RecordSize is the plaintext size of every record but the last.
const RecordSize = 64 << 10

const (
	magic    = "ferry-seal-1\n"
	saltSize = 16
	tagSize  = 16
)

// spent is what this process's records cost: the time inside AES-GCM and the plaintext bytes it
// sealed or opened, so a dump and an import can say what encryption cost them.
var spent struct{ nanos, bytes atomic.Int64 }

// Spent is the time this process spent sealing and opening records, and their plaintext bytes.
func Spent() (time.Duration, int64) {
	return time.Duration(spent.nanos.Load()), spent.bytes.Load()
}

func account(started time.Time, plaintext int) {
	spent.nanos.Add(int64(time.Since(started)))
	spent.bytes.Add(int64(plaintext))
}

// Key is a run's 256-bit key.
type Key [32]byte

// ParseKey reads a key written as 64 hexadecimal digits.
func ParseKey(text string) (Key, error) {
	var key Key
	raw, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(raw) != len(key) {
		return key, errors.New("the run key must be 64 hexadecimal digits (32 bytes)")
	}
	copy(key[:], raw)
	return key, nil
}

// NewKey makes a random key.
func NewKey() (Key, error) {
	var key Key
	_, err := rand.Read(key[:])
	return key, err
}

// String is the key as ParseKey reads it.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

func objectCipher(key Key, label string, salt []byte) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(label))
	mac.Write([]byte{0})
	mac.Write(salt)
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonce(counter uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], counter)
	if last {
		n[11] = 1
	}
	return n
}

// Writer seals what is written to it; Close seals the last record.
type Writer struct {
	out     io.Writer
	aead    cipher.AEAD
	label   []byte
	buffer  []byte
	counter uint64
	err     error
}

// NewWriter writes the header at once.
func NewWriter(out io.Writer, key Key, label string) (*Writer, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := objectCipher(key, label, salt)
	if err != nil {
		return nil, err
	}
	if _, err := out.Write(append([]byte(magic), salt...)); err != nil {
		return nil, err
	}
	return &Writer{out: out, aead: aead, label: []byte(label), buffer: make([]byte, 0, RecordSize)}, nil
}

func (w *Writer) seal(last bool) error {
	started := time.Now()
	sealed := w.aead.Seal(nil, nonce(w.counter, last), w.buffer, w.label)
	account(started, len(w.buffer))
	w.counter++
	w.buffer = w.buffer[:0]
	_, err := w.out.Write(sealed)
	return err
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		// A full record is sealed only once more follows: the last record must carry the flag.
		if len(w.buffer) == RecordSize {
			if w.err = w.seal(false); w.err != nil {
				return written, w.err
			}
		}
		n := copy(w.buffer[len(w.buffer):RecordSize], p)
		w.buffer = w.buffer[:len(w.buffer)+n]
		p = p[n:]
		written += n
	}
	return written, nil
}

// Close seals the last record (possibly empty).
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.seal(true)
	if w.err == nil {
		w.err = errors.New("seal: write after Close")
		return nil
	}
	return w.err
}

// ErrRefused is what every failed opening wraps: the object is not what the run sealed there.
var ErrRefused = errors.New("refused")

// Reader opens a sealed object.
type Reader struct {
	in      *bufio.Reader
	aead    cipher.AEAD
	label   []byte
	record  []byte
	plain   []byte
	counter uint64
	done    bool
	err     error
}

// NewReader reads the header; the records are opened as they are read.
func NewReader(in io.Reader, key Key, label string) (*Reader, error) {
	r := bufio.NewReaderSize(in, RecordSize+tagSize+1)
	header := make([]byte, len(magic)+saltSize)
	if _, err := io.ReadFull(r, header); err != nil || !bytes.HasPrefix(header, []byte(magic)) {
		return nil, fmt.Errorf("%s has no ferry seal: %w", label, ErrRefused)
	}
	aead, err := objectCipher(key, label, header[len(magic):])
	if err != nil {
		return nil, err
	}
	return &Reader{in: r, aead: aead, label: []byte(label), record: make([]byte, RecordSize+tagSize)}, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			// Anything after the last record was not sealed with it.
			if _, err := r.in.ReadByte(); err != io.EOF {
				r.err = fmt.Errorf("%s goes on after its last record: %w", r.label, ErrRefused)
				return 0, r.err
			}
			return 0, io.EOF
		}
		n, err := io.ReadFull(r.in, r.record)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			r.err = err
			return 0, err
		}
		// A full record is the last one only if nothing follows it.
		last := n < len(r.record)
		if !last {
			if _, peekErr := r.in.Peek(1); peekErr == io.EOF {
				last = true
			}
		}
		started := time.Now()
		plain, openErr := r.aead.Open(r.record[:0:0], nonce(r.counter, last), r.record[:n], r.label)
		account(started, len(plain))
		if openErr != nil {
			r.err = fmt.Errorf("%s record %d does not open with the run's key (changed, truncated, reordered, from another object or another run): %w", r.label, r.counter, ErrRefused)
			return 0, r.err
		}
		r.counter++
		r.plain = plain
		r.done = last
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// Bytes seals a small object (a manifest, a verification result) whole.
func Bytes(key Key, label string, plain []byte) ([]byte, error) {
	var out bytes.Buffer
	w, err := NewWriter(&out, key, label)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// OpenBytes opens what Bytes sealed.
func OpenBytes(key Key, label string, object []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(object), key, label)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
