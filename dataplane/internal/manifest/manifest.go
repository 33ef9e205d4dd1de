// Package manifest reads and writes the parts of a run's manifest (runs/<runId>/manifest.json)
// that the Go data plane owns. Format ferry-dump/3: the ferry-dump/2 fields plus "digests", one
// entry per object of the dump (package digest).
package manifest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"ferry.local/dataplane/internal/digest"
)

// Format is the manifest format this data plane writes and reads.
const Format = "ferry-dump/3"

// StoredObject is one stored stream of the dump.
type StoredObject struct {
	Stream   string `json:"stream"`
	Object   string `json:"object"`
	Bytes    int64  `json:"bytes"`
	SQLBytes int64  `json:"sqlBytes"`
	SHA256   string `json:"sha256"`
}

// Manifest is what the verification needs of a run's manifest.
type Manifest struct {
	Format     string          `json:"format"`
	RunID      string          `json:"runId"`
	Databases  string          `json:"databases"`
	TableCount int             `json:"tableCount"`
	Objects    []StoredObject  `json:"objects"`
	Digests    []digest.Object `json:"digests"`
	Tables     []TableSummary  `json:"tables"`
}

// TableSummary is the per-table line the report shows.
type TableSummary struct {
	Database string `json:"database"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// DatabaseList is the manifest's databases, one name each.
func (m Manifest) DatabaseList() []string { return strings.Fields(m.Databases) }

// DataStreams counts the streams that hold rows (all but the definitions).
func (m Manifest) DataStreams() int {
	n := 0
	for _, o := range m.Objects {
		if o.Stream != "definitions" {
			n++
		}
	}
	return n
}

// Read parses a manifest file and refuses one of another format.
func Read(path string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("the manifest is not valid JSON: %w", err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("the manifest is in format %q, which this version of ferry does not read; dump again under a new ferry:migration.runId", m.Format)
	}
	if len(m.Digests) == 0 {
		return m, fmt.Errorf("the manifest records no objects")
	}
	return m, nil
}

// WriteDigestFields writes the manifest's "tableCount", "tables" and "digests" fields, each on
// its own line with a trailing comma, for the dump to place inside the manifest it assembles.
func WriteDigestFields(w io.Writer, objects []digest.Object) error {
	tables := []TableSummary{}
	for _, o := range objects {
		if o.Kind == digest.Table {
			tables = append(tables, TableSummary{Database: o.Database, Table: o.Name, Rows: o.Rows, Checksum: o.Content})
		}
	}
	tablesJSON, err := json.Marshal(tables)
	if err != nil {
		return err
	}
	if objects == nil {
		objects = []digest.Object{}
	}
	digestsJSON, err := json.Marshal(objects)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "  \"tableCount\": %d,\n  \"tables\": %s,\n  \"digests\": %s,\n", len(tables), tablesJSON, digestsJSON)
	return err
}
