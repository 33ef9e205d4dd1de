package main

import (
	"context"
	"encoding/json"
	"os"

	"ferry.local/dataplane/internal/follow"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
)

// runAttempt prints what the run's dump states of itself, as one JSON document: its attempt
// (which it is, what it dumps, why it failed if it did) and the index of each of its streams (the
// chunks stored so far), each opened with the run key. It reads what an import following the
// dump reads; a stream without an index yet is null.
func runAttempt(ctx context.Context) error {
	id, key, store, err := runStore()
	if err != nil {
		return err
	}
	attempt, err := follow.ReadAttempt(ctx, store, *key, id)
	if err != nil {
		return err
	}
	indexes := map[string]*manifest.Index{}
	for _, stream := range attempt.Streams {
		index, err := follow.ReadIndex(ctx, store, *key, id, stream, attempt.ID)
		switch {
		case objstore.IsNotFound(err):
			indexes[stream] = nil
		case err != nil:
			return err
		default:
			indexes[stream] = &index
		}
	}
	return json.NewEncoder(os.Stdout).Encode(struct {
		Attempt manifest.Attempt           `json:"attempt"`
		Indexes map[string]*manifest.Index `json:"indexes"`
	}{attempt, indexes})
}
