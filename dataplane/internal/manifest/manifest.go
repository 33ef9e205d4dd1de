// Package manifest is the schema of a run's manifest (runs/<runId>/manifest.json), written last
// by the dump and read by every later step. Format ferry-dump/7: each stream of the dump is stored
// as chunks of tens of MiB, each a whole compressed frame with its own sha256, so a reader checks
// a chunk before a byte of it is used. Its table digests are package digest's (rows hashed by the
// data plane since /5, keyed and summed over 256 bits since /6, ENUM and SET read with their
// numbers since /7), so a manifest of another format
// is refused rather than compared.
package manifest

import (
	"encoding/json"
	"fmt"

	"ferry.local/dataplane/internal/digest"
)

// Format is the manifest format this data plane writes and reads.
const Format = "ferry-dump/7"

// Prefix is where a run's objects live in the bucket: its chunks, its manifest, its
// verification result.
func Prefix(runID string) string { return "runs/" + runID + "/" }

// Key is the run's manifest, the last object a dump writes.
func Key(runID string) string { return Prefix(runID) + "manifest.json" }

// VerificationKey is the run's verification result.
func VerificationKey(runID string) string { return Prefix(runID) + "verification.json" }

// LiveKey is live mode's record of the run: its replication when last checked, its cutover.
func LiveKey(runID string) string { return Prefix(runID) + "live.json" }

// Chunk is one stored object: a run of whole lines of its stream's SQL, compressed as one frame.
type Chunk struct {
	Object   string `json:"object"`
	Bytes    int64  `json:"bytes"`
	SQLBytes int64  `json:"sqlBytes"`
	SHA256   string `json:"sha256"`
}

// Stream is one dump stream: a data stream holds a disjoint set of tables with their triggers,
// the "definitions" stream views, routines and events. Its chunks concatenated are its SQL.
type Stream struct {
	Name     string  `json:"name"`
	Bytes    int64   `json:"bytes"`
	SQLBytes int64   `json:"sqlBytes"`
	Chunks   []Chunk `json:"chunks"`
	// LongestLine is the stream's longest line of SQL in bytes: a row statement is one line, so
	// the destination's max_allowed_packet is checked against it before the import writes.
	LongestLine int64 `json:"longestLine"`
}

// NewStream is the stream of these chunks, its sizes their sums.
func NewStream(name string, chunks []Chunk) Stream {
	s := Stream{Name: name, Chunks: chunks}
	for _, c := range chunks {
		s.Bytes += c.Bytes
		s.SQLBytes += c.SQLBytes
	}
	return s
}

// LongestLine is the longest line of SQL of any stream, and the stream's name.
func (m Manifest) LongestLine() (int64, string) {
	var longest int64
	var stream string
	for _, s := range m.Streams {
		if s.LongestLine > longest {
			longest, stream = s.LongestLine, s.Name
		}
	}
	return longest, stream
}

// Definitions names the stream the import applies last.
const Definitions = "definitions"

// Physical is the method, and the one stream, of a run whose source's data files were copied
// (mariadb-backup's mbstream, cut anywhere into chunks): restored, not imported.
const Physical = "physical"

// TableSummary is the per-table line the report shows.
type TableSummary struct {
	Database string `json:"database"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// Source says which server was dumped: the address ferry was given and what the server says of
// itself. A run id names one dump of one source's databases.
type Source struct {
	Host       string `json:"host"`
	Port       string `json:"port"`
	Hostname   string `json:"hostname"`
	ServerPort string `json:"serverPort"`
	ServerID   string `json:"serverId"`
	ServerUUID string `json:"serverUuid"`
}

// String names the source in messages.
func (s Source) String() string {
	return fmt.Sprintf("%s:%s (server %s, port %s, server_id %s)", s.Host, s.Port, s.Hostname, s.ServerPort, s.ServerID)
}

// Manifest is the record of one complete dump.
type Manifest struct {
	Format         string          `json:"format"`
	RunID          string          `json:"runId"`
	Source         Source          `json:"source"`
	Compression    string          `json:"compression"`
	Bytes          int64           `json:"bytes"`
	SQLBytes       int64           `json:"sqlBytes"`
	Databases      []string        `json:"databases"`
	TableCount     int             `json:"tableCount"`
	Tables         []TableSummary  `json:"tables"`
	Digests        []digest.Object `json:"digests"`
	ServerVersion  string          `json:"serverVersion"`
	BinlogFile     string          `json:"binlogFile"`
	BinlogPosition string          `json:"binlogPosition"`
	GTID           string          `json:"gtid"`
	DumpTool       string          `json:"dumpTool"`
	Compressor     string          `json:"compressor"`
	StartedAt      string          `json:"startedAt"`
	FinishedAt     string          `json:"finishedAt"`
	// Attempt is the dump attempt that wrote it (its attempt.json and stream indexes name it too).
	Attempt string `json:"attempt,omitempty"`
	// Method is Physical for a copy of the data files; "" for a dump of SQL.
	Method  string   `json:"method,omitempty"`
	Streams []Stream `json:"streams"`
}

// SetDigests records the digests and the per-table summary derived from them.
func (m *Manifest) SetDigests(objects []digest.Object) {
	m.Digests = objects
	m.Tables = []TableSummary{}
	for _, o := range objects {
		if o.Kind == digest.Table {
			m.Tables = append(m.Tables, TableSummary{Database: o.Database, Table: o.Name, Rows: o.Rows, Checksum: o.Content})
		}
	}
	m.TableCount = len(m.Tables)
	if m.Digests == nil {
		m.Digests = []digest.Object{}
	}
}

// DataStreams counts the streams that hold rows (all but the definitions).
func (m Manifest) DataStreams() int {
	n := 0
	for _, s := range m.Streams {
		if s.Name != Definitions {
			n++
		}
	}
	return n
}

// StreamNames names the streams, in order.
func (m Manifest) StreamNames() []string {
	names := make([]string, len(m.Streams))
	for i, s := range m.Streams {
		names[i] = s.Name
	}
	return names
}

// Stream finds a stream by name.
func (m Manifest) Stream(name string) (Stream, bool) {
	for _, s := range m.Streams {
		if s.Name == name {
			return s, true
		}
	}
	return Stream{}, false
}

// Objects is every stored chunk's key, in stream order.
func (m Manifest) Objects() []string {
	var keys []string
	for _, s := range m.Streams {
		for _, c := range s.Chunks {
			keys = append(keys, c.Object)
		}
	}
	return keys
}

// Marshal is the manifest as stored.
func (m Manifest) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Parse reads a manifest and refuses one of another format or one that does not hang together.
func Parse(data []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("the manifest is not valid JSON: %w", err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("the manifest is in format %q, which this version of ferry does not read; dump again under a new ferry:migration.runId", m.Format)
	}
	if len(m.Databases) == 0 || len(m.Digests) == 0 {
		return m, fmt.Errorf("the manifest records no databases or no objects")
	}
	switch m.Method {
	case "":
		if _, ok := m.Stream(Definitions); !ok {
			return m, fmt.Errorf("the manifest has no %s stream", Definitions)
		}
	case Physical:
		if _, ok := m.Stream(Physical); !ok || len(m.Streams) != 1 {
			return m, fmt.Errorf("the manifest of a physical copy holds streams %q, not its one %s stream", m.StreamNames(), Physical)
		}
	default:
		return m, fmt.Errorf("the manifest names method %q, which this version of ferry does not know", m.Method)
	}
	for _, s := range m.Streams {
		if len(s.Chunks) == 0 {
			return m, fmt.Errorf("the manifest's stream %s has no chunks", s.Name)
		}
	}
	return m, nil
}
