// Package follow reads what a dump states of itself while it runs, before its manifest exists:
// its attempt (manifest.AttemptKey) and each stream's index of the chunks stored so far
// (manifest.IndexKey), both sealed with the run key. An import that follows a dump reads them;
// only the manifest, written last, proves a dump complete.
package follow

import (
	"context"

	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/seal"
)

// Reader is the part of the object store the reading needs.
type Reader interface {
	ReadAll(ctx context.Context, key string) ([]byte, error)
	URL(key string) string
}

// Read errors other than the store's are refusals: what was read is not the run's (it does not
// open with the run key under its label, or does not hang together), and reading it again will
// not make it so.

// ReadAttempt reads the run's attempt statement; the store's not-found error passes through
// unchanged when no dump of the run has begun.
func ReadAttempt(ctx context.Context, store Reader, runKey seal.Key, runID string) (manifest.Attempt, error) {
	key := manifest.AttemptKey(runID)
	data, err := store.ReadAll(ctx, key)
	if err != nil {
		return manifest.Attempt{}, err
	}
	opened, err := seal.OpenBytes(runKey, key, data)
	if err != nil {
		return manifest.Attempt{}, refused("%s: %v", store.URL(key), err)
	}
	a, err := manifest.ParseAttempt(opened, runID)
	if err != nil {
		return a, refused("%v", err)
	}
	return a, nil
}

// ReadIndex reads stream's index as attempt stored it; an index another attempt stored does not
// open (it is sealed under that attempt's label), and is refused.
func ReadIndex(ctx context.Context, store Reader, runKey seal.Key, runID, stream, attempt string) (manifest.Index, error) {
	key := manifest.IndexKey(runID, stream)
	data, err := store.ReadAll(ctx, key)
	if err != nil {
		return manifest.Index{}, err
	}
	opened, err := seal.OpenBytes(runKey, manifest.IndexLabel(runID, stream, attempt), data)
	if err != nil {
		return manifest.Index{}, refused("%s is not attempt %s's: %v", store.URL(key), attempt, err)
	}
	x, err := manifest.ParseIndex(opened, attempt, stream)
	if err != nil {
		return x, refused("%v", err)
	}
	return x, nil
}
