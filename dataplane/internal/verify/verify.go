// Package verify compares the objects a dump recorded with what the destination holds.
package verify

import (
	"fmt"
	"sort"

	"ferry.local/dataplane/internal/digest"
)

// Mismatch is one object that differs, and how.
type Mismatch struct {
	Object  string `json:"object"`
	Problem string `json:"problem"`
}

// Compare lists every difference between the recorded objects and the destination's: objects
// missing or added, definitions changed, rows or sequence state changed.
func Compare(expected, actual []digest.Object) []Mismatch {
	found := map[string]digest.Object{}
	for _, o := range actual {
		found[o.Key()] = o
	}
	var mismatches []Mismatch
	seen := map[string]bool{}
	for _, want := range expected {
		seen[want.Key()] = true
		got, ok := found[want.Key()]
		switch {
		case !ok:
			mismatches = append(mismatches, Mismatch{want.String(), "missing on the destination"})
		case got.Definition != want.Definition:
			mismatches = append(mismatches, Mismatch{want.String(), "its definition differs from the dump's (columns, indexes, keys, options or body)"})
		case want.Kind == digest.Table && got.Rows != want.Rows:
			mismatches = append(mismatches, Mismatch{want.String(), fmt.Sprintf("%d rows on the destination, %d in the dump", got.Rows, want.Rows)})
		case want.Kind == digest.Table && got.Content != want.Content:
			mismatches = append(mismatches, Mismatch{want.String(), fmt.Sprintf("its %d rows differ from the dump's (digest %s, dump %s)", got.Rows, got.Content, want.Content)})
		case want.Kind == digest.Sequence && got.Content != want.Content:
			mismatches = append(mismatches, Mismatch{want.String(), fmt.Sprintf("its state %s differs from the dump's %s", got.Content, want.Content)})
		}
	}
	for _, o := range actual {
		if !seen[o.Key()] {
			mismatches = append(mismatches, Mismatch{o.String(), "on the destination but not in the dump"})
		}
	}
	sort.Slice(mismatches, func(a, b int) bool { return mismatches[a].Object < mismatches[b].Object })
	return mismatches
}
