// Package digest computes what ferry's verification compares: for every object of the migrated
// databases a digest of its definition, and for tables and sequences a digest of their content.
// The same code runs on the source, inside the dump's snapshot, and on the destination after the
// import, in sessions with the same time zone, character set and SQL mode (package conn).
//
// Rows are read exactly: every value by its bytes (CAST ... AS BINARY, so no collation can make
// two different strings equal and no mix of character sets can fail), FLOAT through DOUBLE (whose
// text form round-trips), TIMESTAMPs in UTC, long values by their length and SHA-256, NULL apart
// from every value; system-versioned tables with their whole history. The server sends each row's
// values; this package encodes them (a NULL mark, or a length and the bytes, per value) and takes
// the HMAC-SHA256 of that encoding, under a key derived from the run's key, as the row's digest.
// A table's digest is the row count and the sum of its rows' digests modulo 2^256 (so a duplicated
// row counts, and the order of the rows does not).
//
// What it resists: rows chosen so that two different sets of them sum alike. A sum of public
// hashes falls to a generalised birthday search (with 64-bit MD5 prefixes, four rows found in
// seconds); under a key that only the run's steps hold, whoever chooses the rows cannot compute a
// row's digest, so cannot search. What it does not: someone who holds the run's key (and so
// could as well forge the manifest), and a change made between the import and the digests.
// Hashing here rather than in SQL costs the server a third of the CPU.
package digest

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/bits"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"ferry.local/dataplane/internal/sqlident"
)

// Kind is the kind of a database object.
type Kind string

const (
	Table     Kind = "table"
	Sequence  Kind = "sequence"
	View      Kind = "view"
	Trigger   Kind = "trigger"
	Procedure Kind = "procedure"
	Function  Kind = "function"
	Event     Kind = "event"
)

// Object is one object of a migrated database as the manifest records it.
type Object struct {
	Kind     Kind   `json:"kind"`
	Database string `json:"database"`
	Name     string `json:"name"`
	// Definition is the sha256 of the normalised SHOW CREATE text (DEFINER and a table's
	// AUTO_INCREMENT counter left out).
	Definition string `json:"definition"`
	// Rows of a table, every version of a system-versioned one.
	Rows int64 `json:"rows,omitempty"`
	// Content is a table's row digest or a sequence's state.
	Content string `json:"content,omitempty"`
	// History is true for a system-versioned table: Rows and Content cover its history too.
	History bool `json:"history,omitempty"`
	// NeedsTrust is true for a function declared neither DETERMINISTIC, NO SQL nor READS SQL
	// DATA: a server with its binary log on creates it only under log_bin_trust_function_creators.
	NeedsTrust bool `json:"needsTrust,omitempty"`

	size    int64
	columns []column
}

type column struct {
	name, dataType string
	// generation is the column's GENERATION_EXPRESSION: ROW START and ROW END mark a named period.
	generation string
}

// Key identifies the object across servers.
func (o Object) Key() string { return string(o.Kind) + "\x00" + o.Database + "\x00" + o.Name }

// String names the object for a person: table `shop`.`it's`.
func (o Object) String() string {
	return fmt.Sprintf("%s %s", o.Kind, sqlident.Qualified(o.Database, o.Name))
}

// HasContent tells whether the object holds data whose digest is compared.
func (o Object) HasContent() bool { return o.Kind == Table || o.Kind == Sequence }

// Catalog lists the objects of the databases and reads each definition and each table's columns.
// Run it while DDL cannot change them (under the dump's global read lock), in one session.
func Catalog(ctx context.Context, session *sql.Conn, databases []string) ([]Object, error) {
	if len(databases) == 0 {
		return nil, errors.New("no databases to read")
	}
	for _, name := range databases {
		if err := sqlident.Check(name); err != nil {
			return nil, fmt.Errorf("database name: %w", err)
		}
	}
	in, args := sqlident.InList(databases)
	var objects []Object
	listings := []struct {
		query string
		kind  func(string) (Kind, bool)
	}{
		{`SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE,
		    COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0), 0
		  FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ` + in, tableKind},
		{`SELECT TRIGGER_SCHEMA, TRIGGER_NAME, 'TRIGGER', 0, 0
		  FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN ` + in, fixedKind(Trigger)},
		{`SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, 0,
		    ROUTINE_TYPE = 'FUNCTION' AND IS_DETERMINISTIC = 'NO' AND SQL_DATA_ACCESS IN ('CONTAINS SQL', 'MODIFIES SQL DATA')
		  FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN ` + in, routineKind},
		{`SELECT EVENT_SCHEMA, EVENT_NAME, 'EVENT', 0, 0
		  FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN ` + in, fixedKind(Event)},
	}
	for _, listing := range listings {
		rows, err := session.QueryContext(ctx, listing.query, args...)
		if err != nil {
			return nil, fmt.Errorf("listing the objects: %w", err)
		}
		for rows.Next() {
			var o Object
			var kind string
			if err := rows.Scan(&o.Database, &o.Name, &kind, &o.size, &o.NeedsTrust); err != nil {
				rows.Close()
				return nil, err
			}
			k, known := listing.kind(kind)
			if !known {
				rows.Close()
				return nil, fmt.Errorf("%s: an object of type %q, which ferry cannot verify", sqlident.Qualified(o.Database, o.Name), kind)
			}
			o.Kind = k
			o.History = kind == "SYSTEM VERSIONED"
			objects = append(objects, o)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	for i := range objects {
		o := &objects[i]
		text, err := showCreate(ctx, session, *o)
		if err != nil {
			return nil, err
		}
		o.Definition = definitionDigest(*o, text)
		if o.Kind == Table {
			if o.columns, err = columns(ctx, session, *o); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(objects, func(a, b int) bool { return objects[a].Key() < objects[b].Key() })
	return objects, nil
}

func tableKind(t string) (Kind, bool) {
	switch t {
	case "BASE TABLE", "SYSTEM VERSIONED":
		return Table, true
	case "SEQUENCE":
		return Sequence, true
	case "VIEW":
		return View, true
	}
	return "", false
}

func routineKind(t string) (Kind, bool) {
	switch t {
	case "PROCEDURE":
		return Procedure, true
	case "FUNCTION":
		return Function, true
	}
	return "", false
}

func fixedKind(k Kind) func(string) (Kind, bool) { return func(string) (Kind, bool) { return k, true } }

// The column of SHOW CREATE's result that holds the statement, by kind.
var createColumn = map[Kind]string{
	Table: "Create Table", Sequence: "Create Table", View: "Create View",
	Trigger: "SQL Original Statement", Procedure: "Create Procedure",
	Function: "Create Function", Event: "Create Event",
}

func showCreate(ctx context.Context, session *sql.Conn, o Object) (string, error) {
	keyword := strings.ToUpper(string(o.Kind))
	rows, err := session.QueryContext(ctx, "SHOW CREATE "+keyword+" "+sqlident.Qualified(o.Database, o.Name))
	if err != nil {
		return "", fmt.Errorf("reading the definition of %s: %w", o, err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return "", err
	}
	if !rows.Next() {
		return "", fmt.Errorf("reading the definition of %s: no result (it was dropped meanwhile?)", o)
	}
	values := make([]sql.NullString, len(names))
	pointers := make([]any, len(names))
	for i := range values {
		pointers[i] = &values[i]
	}
	if err := rows.Scan(pointers...); err != nil {
		return "", err
	}
	var statement, mode string
	for i, name := range names {
		switch name {
		case createColumn[o.Kind]:
			if !values[i].Valid {
				return "", fmt.Errorf("the definition of %s is hidden from this user: grant it SELECT on mysql.proc (or SHOW CREATE ROUTINE)", o)
			}
			statement = values[i].String
		case "sql_mode":
			mode = values[i].String
		}
	}
	if statement == "" {
		return "", fmt.Errorf("reading the definition of %s: no %q in SHOW CREATE's result", o, createColumn[o.Kind])
	}
	// A stored program runs in the SQL mode it was created in, so that is part of its definition.
	return statement + "\x00" + mode, rows.Err()
}

var (
	definerClause = regexp.MustCompile("DEFINER=`(?:[^`]|``)*`(?:@`(?:[^`]|``)*`)? ?")
	autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=[0-9]+`)
)

// normalise leaves out what a faithful migration may change: the DEFINER clause (stripped on
// request, or an account the destination names differently) and a table's next AUTO_INCREMENT
// value, a counter rather than a definition. Only the clause in the statement's head and the
// table options after the last column are touched, never text inside a body or a default value.
func normalise(kind Kind, statement string) string {
	if loc := definerClause.FindStringIndex(statement); loc != nil {
		statement = statement[:loc[0]] + statement[loc[1]:]
	}
	if kind == Table {
		if cut := strings.LastIndex(statement, "\n)"); cut >= 0 {
			statement = statement[:cut] + autoIncrement.ReplaceAllString(statement[cut:], "")
		}
	}
	return statement
}

func definitionDigest(o Object, text string) string {
	sum := sha256.Sum256([]byte(normalise(o.Kind, text)))
	return hex.EncodeToString(sum[:])
}

func columns(ctx context.Context, session *sql.Conn, o Object) ([]column, error) {
	// A named period column says so in GENERATION_EXPRESSION (ROW START, ROW END), not in EXTRA.
	rows, err := session.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COALESCE(GENERATION_EXPRESSION, '') FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, o.Database, o.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", o, err)
	}
	defer rows.Close()
	var list []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.dataType, &c.generation); err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s has no columns this user can see", o)
	}
	return list, rows.Err()
}

// longTypes are read by their length and MD5, computed where the value is: a row read for its
// digest then stays within InnoDB's 65535-byte limit for the other columns, however large its
// BLOBs and texts.
var longTypes = map[string]bool{
	"tinyblob": true, "blob": true, "mediumblob": true, "longblob": true,
	"tinytext": true, "text": true, "mediumtext": true, "longtext": true, "json": true,
	"geometry": true, "point": true, "linestring": true, "polygon": true, "multipoint": true,
	"multilinestring": true, "multipolygon": true, "geometrycollection": true,
}

// valueExpression selects one column's value as exact bytes: its text form as binary (a FLOAT
// widened to DOUBLE first; an ENUM or SET with its number), or for a long value its length and
// SHA-256 (NULL stays NULL): an MD5 would let two different values, made to collide, pass for
// each other.
func valueExpression(c column) string {
	value := sqlident.Quote(c.name)
	if c.dataType == "float" {
		// A FLOAT's own text has 6 significant digits; widened to DOUBLE it prints exactly.
		value = "CAST(" + value + " AS DOUBLE)"
	}
	bytes := "CAST(" + value + " AS BINARY)"
	if c.dataType == "enum" || c.dataType == "set" {
		// Their value is a member's number (a set of bits for SET); two numbers can read alike
		// (the empty member and the empty value an invalid one is stored as, or members a server
		// made equal), so the number is read with the text.
		return "CONCAT(" + value + " + 0, ':', " + bytes + ")"
	}
	if longTypes[c.dataType] {
		return "CONCAT(LENGTH(" + bytes + "), ':', SHA2(" + bytes + ", 256))"
	}
	return bytes
}

// rowQuery is the statement that reads every row of a table (every version of a system-versioned
// one) as the values its digest covers. Only quoted names and fixed SQL go into it.
func rowQuery(o Object) string {
	parts := make([]string, 0, len(o.columns)+2)
	explicitPeriod := false
	for _, c := range o.columns {
		parts = append(parts, valueExpression(c))
		if strings.EqualFold(c.generation, "ROW START") {
			explicitPeriod = true
		}
	}
	from := sqlident.Qualified(o.Database, o.Name)
	if o.History {
		from += " FOR SYSTEM_TIME ALL"
		if !explicitPeriod {
			// Implicit period columns are invisible to information_schema but part of each version.
			for _, name := range []string{"ROW_START", "ROW_END"} {
				parts = append(parts, valueExpression(column{name: name, dataType: "timestamp"}))
			}
		}
	}
	// HIGH_PRIORITY: a table without transactions is read-locked by ferry while it is read, and a
	// writer waiting for that lock would queue every later plain read of it behind itself, the
	// digest's among them: a deadlock. A high-priority read goes before waiting writers (it means
	// nothing to InnoDB).
	return "SELECT HIGH_PRIORITY " + strings.Join(parts, ", ") + " FROM " + from
}

// RowKey is the key of a run's row digests.
type RowKey [32]byte

// RowKeyFrom derives the row digests' key from the run's key (HKDF-SHA256 with a label of its
// own, so it is no other key of the run's).
func RowKeyFrom(runKey [32]byte) (RowKey, error) {
	var key RowKey
	derived, err := hkdf.Key(sha256.New, runKey[:], nil, "ferry row digest v2", len(key))
	copy(key[:], derived)
	return key, err
}

// RowSum is a table's content digest: the row count and the sum modulo 2^256 of the rows' keyed
// digests.
type RowSum struct {
	Count int64
	sum   [4]uint64 // little-endian limbs
	mac   hash.Hash
	buf   []byte
	row   [sha256.Size]byte
}

// NewRowSum is an empty table's digest under key.
func NewRowSum(key RowKey) *RowSum {
	return &RowSum{mac: hmac.New(sha256.New, key[:])}
}

// Add counts one row. A NULL is one byte 0; a value is a byte 1, its length as a uvarint and its
// bytes: no two different rows encode alike, whatever bytes their values hold.
func (s *RowSum) Add(values []sql.RawBytes) {
	s.buf = s.buf[:0]
	for _, v := range values {
		if v == nil {
			s.buf = append(s.buf, 0)
			continue
		}
		s.buf = append(s.buf, 1)
		s.buf = binary.AppendUvarint(s.buf, uint64(len(v)))
		s.buf = append(s.buf, v...)
	}
	s.mac.Reset()
	s.mac.Write(s.buf)
	row := s.mac.Sum(s.row[:0])
	var carry uint64
	for limb := range s.sum {
		word := binary.BigEndian.Uint64(row[len(row)-8*(limb+1):])
		s.sum[limb], carry = bits.Add64(s.sum[limb], word, carry)
	}
	s.Count++
}

// String is the digest as the manifest records it: the count, and the sum in hexadecimal.
func (s *RowSum) String() string {
	var total [32]byte
	for limb, word := range s.sum {
		binary.BigEndian.PutUint64(total[len(total)-8*(limb+1):], word)
	}
	return fmt.Sprintf("%d:%s", s.Count, hex.EncodeToString(total[:]))
}

func tableContent(ctx context.Context, key RowKey, session *sql.Conn, o *Object) error {
	rows, err := session.QueryContext(ctx, rowQuery(*o))
	if err != nil {
		return fmt.Errorf("digesting the rows of %s: %w", o, err)
	}
	defer rows.Close()
	width := len(o.columns)
	if names, err := rows.Columns(); err == nil {
		width = len(names)
	}
	values := make([]sql.RawBytes, width)
	pointers := make([]any, width)
	for i := range values {
		pointers[i] = &values[i]
	}
	sum := NewRowSum(key)
	for rows.Next() {
		if err := rows.Scan(pointers...); err != nil {
			return fmt.Errorf("digesting the rows of %s: %w", o, err)
		}
		sum.Add(values)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("digesting the rows of %s: %w", o, err)
	}
	o.Rows = sum.Count
	o.Content = sum.String()
	return nil
}

func sequenceContent(ctx context.Context, session *sql.Conn, o *Object) error {
	var state [8]sql.NullString
	err := session.QueryRowContext(ctx, "SELECT next_not_cached_value, minimum_value, maximum_value,"+
		" start_value, increment, cache_size, cycle_option, cycle_count FROM "+sqlident.Qualified(o.Database, o.Name)).
		Scan(&state[0], &state[1], &state[2], &state[3], &state[4], &state[5], &state[6], &state[7])
	if err != nil {
		return fmt.Errorf("reading the state of %s: %w", o, err)
	}
	parts := make([]string, len(state))
	for i, v := range state {
		parts[i] = v.String
	}
	o.Content = strings.Join(parts, ":")
	return nil
}

// Contents fills in the content digests of the tables (under key) and sequences, spread over the
// sessions (each already inside the snapshot it must read), largest first, dealt out in turn.
func Contents(ctx context.Context, key RowKey, sessions []*sql.Conn, objects []Object, done func(Object)) error {
	var work []*Object
	for i := range objects {
		if objects[i].HasContent() {
			work = append(work, &objects[i])
		}
	}
	sort.SliceStable(work, func(a, b int) bool { return work[a].size > work[b].size })
	shares := make([][]*Object, len(sessions))
	for i, o := range work {
		turn := i % (2 * len(sessions))
		if turn >= len(sessions) {
			turn = 2*len(sessions) - 1 - turn
		}
		shares[turn] = append(shares[turn], o)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(sessions))
	for s := range sessions {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for _, o := range shares[s] {
				var err error
				if o.Kind == Table {
					err = tableContent(ctx, key, sessions[s], o)
				} else {
					err = sequenceContent(ctx, sessions[s], o)
				}
				if err != nil {
					errs[s] = err
					cancel()
					return
				}
				if done != nil {
					done(*o)
				}
			}
		}(s)
	}
	wg.Wait()
	// One session's failure cancels the others; report the cause, not the cancellations.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// Progress returns a callback for Contents that logs how far the content digests are, at most
// every 10 seconds and once at the end.
func Progress(logf func(format string, args ...any), objects []Object) func(Object) {
	total := 0
	for _, o := range objects {
		if o.HasContent() {
			total++
		}
	}
	var mu sync.Mutex
	done := 0
	var rows int64
	started := time.Now()
	last := started
	return func(o Object) {
		mu.Lock()
		defer mu.Unlock()
		done++
		rows += o.Rows
		if time.Since(last) >= 10*time.Second || done == total {
			last = time.Now()
			logf("digested %d of %d tables and sequences, %d rows, %.0fs", done, total, rows, time.Since(started).Seconds())
		}
	}
}
