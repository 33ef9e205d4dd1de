package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
	"ferry.local/dataplane/internal/seal"
)

// LiveRecord is what live mode's steps store beside the manifest (runs/<runId>/live.json, sealed
// with the run key like the verification result): the replication step when it last looked, the
// cutover once it happened. The report reads it back, so the stack's outputs state what the
// destination did, never what it was asked to do.
type LiveRecord struct {
	RunID string `json:"runId"`
	// State is the run's state on the destination: replicating or cut over.
	State string `json:"state"`
	// Source is the server replicated from, as the destination reaches it (host:port).
	Source string `json:"source"`
	// Replication is what the replication step saw last, Cutover what the cutover did.
	Replication *ReplicationSeen `json:"replication"`
	Cutover     *CutoverDone     `json:"cutover"`
}

// ReplicationSeen is the replica's state when the replication step last checked it.
type ReplicationSeen struct {
	CheckedAt string `json:"checkedAt"`
	// Behind counts the transactions the source had logged that the replica had not applied; -1
	// when the positions did not tell.
	Behind int64 `json:"behind"`
	// SecondsBehind is the replica's own estimate; -1 when it gave none.
	SecondsBehind int64  `json:"secondsBehind"`
	Applied       string `json:"applied"`
}

// CutoverDone is a cutover that happened: when, at which position, how long no write was accepted
// anywhere, and what the comparison of both sides at the switch found.
type CutoverDone struct {
	At       string `json:"at"`
	Position string `json:"position"`
	WindowMs int64  `json:"windowMs"`
	// Compared is false when the comparison could not run; Mismatched counts the objects that
	// differ when it did.
	Compared   bool  `json:"compared"`
	Objects    int   `json:"objects"`
	Tables     int   `json:"tables"`
	Rows       int64 `json:"rows"`
	Mismatched int   `json:"mismatched"`
}

func utcNow() string { return time.Now().UTC().Format("2006-01-02T15:04:05Z") }

// storeSealed seals a record of the run with the run key and stores it at key, replacing the
// one before: the verification result and the live record, which only the destination's steps
// write.
// It returns the text it stored.
func storeSealed(ctx context.Context, r run, key, what string, record any) ([]byte, error) {
	data, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	sealed, err := seal.Bytes(*r.key, key, data)
	if err != nil {
		return nil, err
	}
	if _, err := r.store.Put(ctx, key, bytes.NewReader(sealed), int64(len(sealed))); err != nil {
		return nil, fmt.Errorf("cannot store the run's %s (%s): %v", what, r.store.URL(key), err)
	}
	return data, nil
}

// readSealed is a record of the run stored with storeSealed, and its text; nil when there is none.
func readSealed[T any](ctx context.Context, r run, key, what string) (*T, []byte, error) {
	id := r.manifest.RunID
	data, err := r.store.ReadAll(ctx, key)
	if err != nil {
		if objstore.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if data, err = seal.OpenBytes(*r.key, key, data); err != nil {
		return nil, nil, fmt.Errorf("the %s of run %s was not written by ferry's steps: %v", what, id, err)
	}
	var record T
	if err := json.Unmarshal(data, &record); err != nil {
		return nil, nil, fmt.Errorf("the %s of run %s is not valid JSON: %v", what, id, err)
	}
	return &record, data, nil
}

// storeLiveRecord stores the run's live record, replacing the one before.
func storeLiveRecord(ctx context.Context, r run, record LiveRecord) error {
	_, err := storeSealed(ctx, r, manifest.LiveKey(r.manifest.RunID), "live record", record)
	return err
}

// readLiveRecord is the run's live record as stored (nil when there is none: a snapshot run, or
// a live one not replicating yet).
func readLiveRecord(ctx context.Context, r run) (*LiveRecord, []byte, error) {
	return readSealed[LiveRecord](ctx, r, manifest.LiveKey(r.manifest.RunID), "live record")
}
