package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

func sealed(t *testing.T, key Key, label string, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, key, label)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, as a pipe delivers them.
	for rest := plain; len(rest) > 0; {
		n := min(len(rest), 7000+len(rest)%5000)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func open(key Key, label string, object []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(object), key, label)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTripAtEverySizeAroundARecord(t *testing.T) {
	key, _ := NewKey()
	for _, size := range []int{0, 1, RecordSize - 1, RecordSize, RecordSize + 1, 3*RecordSize + 17} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		object := sealed(t, key, "runs/r/data-1/000000.sql.zst", plain)
		got, err := open(key, "runs/r/data-1/000000.sql.zst", object)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: %v", size, err)
		}
		if bytes.Contains(object, plain[:min(size, 64)]) && size >= 16 {
			t.Fatalf("size %d: the plaintext shows in the object", size)
		}
	}
}

func TestRefusesEveryChange(t *testing.T) {
	key, _ := NewKey()
	other, _ := NewKey()
	plain := make([]byte, 3*RecordSize+100)
	_, _ = rand.Read(plain)
	label := "runs/r/data-1/000001.sql.zst"
	object := sealed(t, key, label, plain)
	record := RecordSize + tagSize
	header := len(magic) + saltSize
	cases := map[string]func() ([]byte, error){
		"a bit flipped": func() ([]byte, error) {
			c := bytes.Clone(object)
			c[len(c)/2] ^= 1
			return open(key, label, c)
		},
		"cut at a record boundary": func() ([]byte, error) { return open(key, label, object[:header+2*record]) },
		// Not one record left: still not the empty object (whose one record is an empty last one).
		"cut right after the header": func() ([]byte, error) { return open(key, label, object[:header]) },
		"cut mid-record":             func() ([]byte, error) { return open(key, label, object[:header+record+100]) },
		"records swapped": func() ([]byte, error) {
			c := bytes.Clone(object)
			copy(c[header:], object[header+record:header+2*record])
			copy(c[header+record:], object[header:header+record])
			return open(key, label, c)
		},
		"bytes appended":         func() ([]byte, error) { return open(key, label, append(bytes.Clone(object), 0)) },
		"another object's place": func() ([]byte, error) { return open(key, "runs/r/data-1/000002.sql.zst", object) },
		"another run's key":      func() ([]byte, error) { return open(other, label, object) },
		"not sealed at all":      func() ([]byte, error) { return open(key, label, plain) },
		"a last record duplicated": func() ([]byte, error) {
			return open(key, label, append(bytes.Clone(object), object[len(object)-100-tagSize:]...))
		},
	}
	for name, attempt := range cases {
		got, err := attempt()
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("%s: got %d bytes and %v, want a refusal", name, len(got), err)
		}
	}
}

func TestTheSameLabelSealedTwiceUsesNewKeys(t *testing.T) {
	key, _ := NewKey()
	plain := bytes.Repeat([]byte("row"), 1000)
	a := sealed(t, key, "x", plain)
	b := sealed(t, key, "x", plain)
	if bytes.Equal(a[len(magic)+saltSize:], b[len(magic)+saltSize:]) {
		t.Fatal("two sealings of the same label and text are equal: a nonce was reused")
	}
}

func TestParseKey(t *testing.T) {
	key, _ := NewKey()
	parsed, err := ParseKey(key.String() + "\n")
	if err != nil || parsed != key {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "00", key.String()[:63] + "g", key.String() + "00"} {
		if _, err := ParseKey(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// The cost of sealing and opening, in the bytes a chunk stores (compressed SQL):
// go test -run=NONE -bench=. ./internal/seal
func BenchmarkSeal(b *testing.B) {
	key := Key{}
	data := make([]byte, 32<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		w, err := NewWriter(io.Discard, key, "runs/bench/data-1/000000.sql.zst")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	key := Key{}
	data := make([]byte, 32<<20)
	sealed, err := Bytes(key, "runs/bench/data-1/000000.sql.zst", data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		r, err := NewReader(bytes.NewReader(sealed), key, "runs/bench/data-1/000000.sql.zst")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSpentCountsEveryPlaintextByteSealedAndOpened(t *testing.T) {
	key, _ := NewKey()
	plain := make([]byte, 5*RecordSize+123)
	_, _ = rand.Read(plain)
	timeBefore, bytesBefore := Spent()
	object := sealed(t, key, "runs/r/data-1/000000.sql.zst", plain)
	if _, err := open(key, "runs/r/data-1/000000.sql.zst", object); err != nil {
		t.Fatal(err)
	}
	timeAfter, bytesAfter := Spent()
	if got := bytesAfter - bytesBefore; got != int64(2*len(plain)) {
		t.Fatalf("counted %d bytes, sealed and opened %d", got, 2*len(plain))
	}
	if timeAfter <= timeBefore {
		t.Fatalf("no time counted: %v then %v", timeBefore, timeAfter)
	}
}

func TestNothingIsWrittenAfterClose(t *testing.T) {
	key, _ := NewKey()
	var out bytes.Buffer
	w, err := NewWriter(&out, key, "label")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sealedLength := out.Len()
	if n, err := w.Write([]byte("late")); err == nil || n != 0 {
		t.Errorf("a write after Close took %d bytes, error %v", n, err)
	}
	if err := w.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
	if out.Len() != sealedLength {
		t.Errorf("%d bytes written after Close", out.Len()-sealedLength)
	}
}
