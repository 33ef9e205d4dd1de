// Package beacon makes a step that runs in a cluster visible to the operator's `pulumi up`: the
// step's log lines are posted, sealed with the run key, to runs/<runId>/log/<step>.json every few
// seconds and once more when it ends; `ferry-dataplane watch` on the operator's machine reads them
// back and prints the new ones, so the engine shows them while the Job runs. A beacon never fails
// its step: a store that refuses it costs the operator the lines, not the migration.
package beacon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

// Format names the record's schema.
const Format = "ferry-log/1"

// keep is how many of the latest lines a record holds; a watcher that falls further behind is
// told how many it missed.
const keep = 200

// States of a step, as its record says.
const (
	Running = "running"
	Done    = "done"
	Failed  = "failed"
)

// Line is one log line and its number in the step's attempt.
type Line struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

// Record is what the object holds.
type Record struct {
	Format string `json:"format"`
	Step   string `json:"step"`
	// Attempt tells one run of the step from an earlier one under the same run id.
	Attempt   string `json:"attempt"`
	State     string `json:"state"`
	Error     string `json:"error,omitempty"`
	Lines     []Line `json:"lines"`
	UpdatedAt string `json:"updatedAt"`
}

// Key is where a step's record lives.
func Key(runID, step string) string { return manifest.Prefix(runID) + "log/" + step + ".json" }

// Store is the part of the object store a beacon uses.
type Store interface {
	Put(ctx context.Context, key string, body io.Reader, size int64) (int64, error)
	ReadAll(ctx context.Context, key string) ([]byte, error)
}

// Beacon posts one step's lines.
type Beacon struct {
	store  Store
	key    seal.Key
	object string
	every  time.Duration

	mu      sync.Mutex
	record  Record
	next    int
	changed bool
	failed  bool

	stop chan struct{}
	done chan struct{}
}

// Start begins posting the step's record every interval.
func Start(store Store, key seal.Key, runID, step string, every time.Duration) *Beacon {
	attempt := make([]byte, 8)
	_, _ = rand.Read(attempt)
	b := &Beacon{store: store, key: key, object: Key(runID, step), every: every,
		record:  Record{Format: Format, Step: step, Attempt: hex.EncodeToString(attempt), State: Running, Lines: []Line{}},
		changed: true, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// Add takes one log line.
func (b *Beacon) Add(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	b.record.Lines = append(b.record.Lines, Line{Seq: b.next, Text: text})
	if len(b.record.Lines) > keep {
		b.record.Lines = b.record.Lines[len(b.record.Lines)-keep:]
	}
	b.changed = true
}

// Finish posts the final record: done, or failed with the step's error.
func (b *Beacon) Finish(stepErr error) {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	b.record.State = Done
	if stepErr != nil {
		b.record.State, b.record.Error = Failed, stepErr.Error()
	}
	b.changed = true
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.post(ctx)
}

func (b *Beacon) loop() {
	defer close(b.done)
	ticker := time.NewTicker(b.every)
	defer ticker.Stop()
	b.post(context.Background())
	for {
		select {
		case <-b.stop:
			return
		case <-ticker.C:
			// Posted on every tick, new lines or not: an unchanged record means a stopped step.
			b.mu.Lock()
			b.changed = true
			b.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), b.every+5*time.Second)
			b.post(ctx)
			cancel()
		}
	}
}

// post stores the record when it changed; a failure is kept quiet after the first.
func (b *Beacon) post(ctx context.Context) {
	b.mu.Lock()
	if !b.changed {
		b.mu.Unlock()
		return
	}
	b.record.UpdatedAt = time.Now().UTC().Format(time.RFC3339Nano)
	data, err := json.Marshal(b.record)
	b.changed = false
	b.mu.Unlock()
	if err == nil {
		data, err = seal.Bytes(b.key, b.object, data)
	}
	if err == nil {
		_, err = b.store.Put(ctx, b.object, bytes.NewReader(data), int64(len(data)))
	}
	if err != nil {
		b.mu.Lock()
		b.changed = true
		b.mu.Unlock()
		if !b.failed {
			b.failed = true
			// Straight to stderr, not through the step's log: that would feed the beacon itself.
			fmt.Fprintf(os.Stderr, "the step's log could not be posted to %s (%v); pulumi up shows no progress of it\n", b.object, err)
		}
	}
}

// Read returns a step's current record, or nil when there is none yet.
func Read(ctx context.Context, store Store, key seal.Key, runID, step string, notFound func(error) bool) (*Record, error) {
	object := Key(runID, step)
	data, err := store.ReadAll(ctx, object)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, err
	}
	data, err = seal.OpenBytes(key, object, data)
	if err != nil {
		return nil, fmt.Errorf("the log record of the %s step was not written with this run's key: %v", step, err)
	}
	var record Record
	if err := json.Unmarshal(data, &record); err != nil || record.Format != Format {
		return nil, fmt.Errorf("the log record of the %s step is not a %s record", step, Format)
	}
	return &record, nil
}
