package manifest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// AttemptFormat is the format of an attempt's statement and of its streams' indexes.
const AttemptFormat = "ferry-attempt/1"

// AttemptKey is where a dump states, as it begins, which attempt it is
// (runs/<runId>/attempt.json): an import that follows a dump before its manifest exists follows
// that attempt and no other, and stops when the statement changes or says the attempt failed.
func AttemptKey(runID string) string { return Prefix(runID) + "attempt.json" }

// IndexKey is a stream's index (runs/<runId>/<stream>/index.json): the chunks one attempt has
// stored so far, rewritten after each, sealed under IndexLabel so that an index of another
// attempt never opens as this one's.
func IndexKey(runID, stream string) string { return Prefix(runID) + stream + "/index.json" }

// IndexLabel is the label an index is sealed under: its key and its attempt.
func IndexLabel(runID, stream, attempt string) string {
	return IndexKey(runID, stream) + "\x00" + attempt
}

// Attempt is what a dump states of itself: its identity, what it dumps, and once it stops
// without a manifest, why.
type Attempt struct {
	Format      string   `json:"format"`
	RunID       string   `json:"runId"`
	ID          string   `json:"id"`
	Databases   []string `json:"databases"`
	Compression string   `json:"compression"`
	// Streams names the attempt's streams, the definitions last, as the manifest will; none while
	// the dump prepares (it states itself once the source has passed its checks, and its streams
	// once its snapshot is open).
	Streams   []string `json:"streams,omitempty"`
	StartedAt string   `json:"startedAt"`
	// Failed is why the attempt stopped without a manifest; "" while it runs or once it is done.
	Failed string `json:"failed,omitempty"`
}

// Index is the chunks of one stream one attempt has stored so far, in order.
type Index struct {
	Format  string  `json:"format"`
	Attempt string  `json:"attempt"`
	Stream  string  `json:"stream"`
	Chunks  []Chunk `json:"chunks"`
	// LongestLine is the longest line of SQL in those chunks, in bytes.
	LongestLine int64 `json:"longestLine"`
	// A physical copy's index (stream Physical, no attempt) grows with each chunk stored, then
	// says Complete once the copy is whole and proven at the digests' point, before the digests are
	// read: with its compression, and, if the dump fails, why (its manifest never comes).
	Compression string `json:"compression,omitempty"`
	Complete    bool   `json:"complete,omitempty"`
	Failed      string `json:"failed,omitempty"`
	// EstimatedBytes is the dump's estimate of the whole copy's bytes before compression, for a
	// restore beside it to tell how far it is (the chunks' own sizes say what is stored so far).
	EstimatedBytes int64 `json:"estimatedBytes,omitempty"`
}

// NewAttemptID draws an attempt's identity: 128 random bits, so two attempts never share one.
func NewAttemptID() (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}

// ParseAttempt reads an attempt's statement and refuses one of another format or run.
func ParseAttempt(data []byte, runID string) (Attempt, error) {
	var a Attempt
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("the dump's attempt statement is not valid JSON: %w", err)
	}
	if a.Format != AttemptFormat {
		return a, fmt.Errorf("the dump's attempt statement is in format %q, which this version of ferry does not read", a.Format)
	}
	if a.RunID != runID || a.ID == "" || len(a.Databases) == 0 || (len(a.Streams) > 0 && a.Streams[len(a.Streams)-1] != Definitions) {
		return a, fmt.Errorf("the dump's attempt statement does not hang together (run %q, attempt %q, %d databases, streams %q)", a.RunID, a.ID, len(a.Databases), a.Streams)
	}
	return a, nil
}

// ParseIndex reads a stream's index and refuses one of another attempt or stream.
func ParseIndex(data []byte, attempt, stream string) (Index, error) {
	var x Index
	if err := json.Unmarshal(data, &x); err != nil {
		return x, fmt.Errorf("the index of stream %s is not valid JSON: %w", stream, err)
	}
	if x.Format != AttemptFormat || x.Attempt != attempt || x.Stream != stream {
		return x, fmt.Errorf("the index of stream %s is not this attempt's (format %q, attempt %q, stream %q)", stream, x.Format, x.Attempt, x.Stream)
	}
	return x, nil
}
