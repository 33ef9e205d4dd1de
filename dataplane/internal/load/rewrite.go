package load

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"ferry.local/dataplane/internal/sqlident"
	"ferry.local/dataplane/internal/sqlscript"
)

// Rewrite is what the import changes in the dump's SQL on its way to the client. It never matches
// text: the script is followed statement by statement as the client splits it (package
// sqlscript), and only whole top-level statements are looked at, by their tokens as the server
// reads them. A name, a string or a body in the dump is one token whatever bytes it holds, so it
// cannot be taken for a clause; what the scanner cannot follow exactly is refused, not guessed.
type Rewrite struct {
	// StripDefiners drops the DEFINER = user@host clause from the head of a CREATE VIEW,
	// TRIGGER, PROCEDURE, FUNCTION or EVENT statement (never from a body or a row): they are then
	// created for the importing account, as their definers may not exist on the destination.
	StripDefiners bool
	// DeferIndexes takes the secondary indexes (KEY, INDEX, UNIQUE) of a table with a primary key
	// out of its CREATE TABLE and adds them back by one ALTER TABLE once its rows are in, so InnoDB
	// builds each by sorting instead of inserting into it row by row (a quarter less import time
	// on bench/'s dataset). Tables with foreign keys, FULLTEXT or SPATIAL indexes, CHECK
	// constraints, no primary key (InnoDB would cluster on a unique key), system versioning, or an
	// AUTO_INCREMENT column that does not lead the primary key are left as dumped.
	DeferIndexes bool
	// ServerVersion is the destination's version as a number (10.11.19: 101119): it decides
	// which executable comments the server runs.
	ServerVersion int
}

const (
	// holdBytes: a statement is held whole up to this size; a longer one (a row's INSERT with a
	// large BLOB) passes through in pieces, unless it is one the rewrite may change.
	holdBytes = 1 << 20
	// maxHeld: a statement the rewrite may change is held up to this size, then passed as dumped.
	maxHeld = 64 << 20
)

type rewriter struct {
	Rewrite
	out     *bufio.Writer
	scanner *sqlscript.Scanner
	// before is the scanner as it was where the current piece starts: what the client holds at
	// the point where the pending ALTER TABLE would go.
	before sqlscript.Scanner
	// pending is the ALTER TABLE that adds a table's deferred keys back, written before the first
	// statement after its rows.
	pending []byte
	// lineStart: the next piece starts a line.
	lineStart bool
	// vars are the user variables that hold an sql_mode (mariadb-dump saves and restores it).
	vars map[string]mode
}

type mode struct{ noBackslashEscapes, ansiQuotes, known bool }

// Copy writes src to dst with the rewrite applied.
func (r Rewrite) Copy(dst io.Writer, src io.Reader) error {
	w := &rewriter{Rewrite: r, out: bufio.NewWriterSize(dst, 256<<10), scanner: sqlscript.NewScanner(r.ServerVersion),
		lineStart: true, vars: map[string]mode{}}
	w.before = *w.scanner
	if err := w.copy(src); err != nil {
		return err
	}
	return w.out.Flush()
}

func (w *rewriter) copy(src io.Reader) error {
	buf := make([]byte, 0, 256<<10)
	// The current piece is buf[start:pos], scanned; buf[pos:] is read but not scanned yet.
	start, pos := 0, 0
	// streamed: the current statement's head was written as dumped (too long to hold).
	streamed := false
	eof := false
	for {
		n, event, err := w.scanner.Next(buf[pos:], eof)
		pos += n
		if err != nil {
			return fmt.Errorf("the dump's SQL is refused at byte %d: %v; nothing after that point was sent", w.scanner.Offset(), err)
		}
		if event != sqlscript.More {
			piece := buf[start:pos]
			if streamed {
				if err := w.write(piece); err != nil {
					return err
				}
			} else if err := w.piece(piece, event); err != nil {
				return err
			}
			w.lineStart = piece[len(piece)-1] == '\n'
			w.before = *w.scanner
			start, streamed = pos, false
			continue
		}
		if eof && pos == len(buf) {
			return w.end(buf[start:], streamed)
		}
		if held := buf[start:pos]; len(held) > holdBytes && (streamed || !w.mayChange(held) || len(held) > maxHeld) {
			if !streamed {
				if err := w.flushPending(held); err != nil {
					return err
				}
				if w.mayChange(held) {
					// Passed as dumped, unread: whatever it sets of the session's quoting is unknown.
					w.scanner.SetMode(false, false, false)
				}
			}
			if err := w.write(held); err != nil {
				return err
			}
			start, streamed = pos, true
		}
		// Room for the next read: what is done is dropped (once a read, so the copying stays
		// linear), and a held statement that fills the buffer doubles it.
		if start > 0 {
			buf = buf[:copy(buf, buf[start:])]
			pos -= start
			start = 0
		}
		if cap(buf)-len(buf) < 64<<10 {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		read, err := io.ReadAtLeast(src, buf[len(buf):cap(buf)], 1)
		buf = buf[:len(buf)+read]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
		} else if err != nil {
			return err
		}
	}
}

// end takes what follows the last statement: blanks and comments, or nothing.
func (w *rewriter) end(rest []byte, streamed bool) error {
	if !w.scanner.AtStatementStart() || streamed {
		return fmt.Errorf("the dump's SQL ends inside a statement (after byte %d): the stream is incomplete", w.scanner.Offset())
	}
	if err := w.placePending(); err != nil {
		return err
	}
	return w.write(rest)
}

func (w *rewriter) write(b []byte) error {
	_, err := w.out.Write(b)
	return err
}

// piece takes one statement the client sends (with the blanks and comments before it) or one
// DELIMITER line.
func (w *rewriter) piece(piece []byte, event sqlscript.Event) error {
	if event == sqlscript.DelimiterLine {
		if err := w.placePending(); err != nil {
			return err
		}
		return w.write(piece)
	}
	if err := w.flushPending(piece); err != nil {
		return err
	}
	// Only a CREATE is ever changed, and only a SET changes the session's quoting: anything else
	// (the rows' INSERTs above all) passes without being cut into tokens.
	switch {
	case !w.headRead(piece):
		return w.unread(piece)
	case !w.firstWordIs(piece, "CREATE", "SET"):
		return w.write(piece)
	}
	s, err := w.statement(piece)
	if err != nil {
		return err
	}
	if s.tokens == nil {
		return w.unread(piece)
	}
	switch {
	case w.DeferIndexes && s.is("CREATE", "TABLE"):
		if create, alter := s.deferKeys(); alter != nil {
			w.pending = alter
			return w.write(create)
		}
	case w.StripDefiners && s.is("CREATE"):
		if stripped := s.stripDefiner(); stripped != nil {
			return w.write(stripped)
		}
	case s.is("SET"):
		if err := w.followSet(s); err != nil {
			return err
		}
	}
	return w.write(piece)
}

// unread passes a statement the lexer does not follow as dumped (so it may be a SET the rewrite
// cannot read): what it may set of the session's quoting is taken as unknown, and a character set
// the scanner cannot follow is refused.
func (w *rewriter) unread(piece []byte) error {
	if containsSQLMode(piece) {
		w.scanner.SetMode(false, false, false)
	}
	lower := bytes.ToLower(piece)
	for _, charset := range unsafeCharsets {
		if bytes.Contains(lower, []byte(charset)) {
			return w.unsafeCharset(charset)
		}
	}
	return w.write(piece)
}

// containsSQLMode says whether b holds "sql_mode" in any letter case, without copying b.
func containsSQLMode(b []byte) bool {
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], '_')
		if k < 0 {
			return false
		}
		i += k
		if i >= 3 && i+5 <= len(b) && bytes.EqualFold(b[i-3:i+5], []byte("sql_mode")) {
			return true
		}
		i++
	}
}

// unsafeCharset refuses a statement that names one of unsafeCharsets.
func (w *rewriter) unsafeCharset(charset string) error {
	return fmt.Errorf("the dump's SQL is refused at byte %d: a statement names the character set %s, whose characters may hold quote or backslash bytes the client would read otherwise", w.scanner.Offset(), charset)
}

// unsafeCharsets are the client character sets whose multi-byte characters may hold ASCII bytes
// (a backslash or a quote), which the scanner would take for themselves.
var unsafeCharsets = []string{"big5", "cp932", "gbk", "gb18030", "sjis"}

// statement is a held statement: its text up to the delimiter, its tokens, what follows.
type statement struct {
	body, trailer []byte
	tokens        []sqlscript.Token
	significant   []sqlscript.Token
	delimiter     []byte
}

func (w *rewriter) statement(piece []byte) (statement, error) {
	delimiter := w.scanner.Delimiter()
	trimmed := bytes.TrimRight(piece, " \t\r\n")
	if !bytes.HasSuffix(trimmed, delimiter) {
		return statement{}, fmt.Errorf("the dump's SQL is refused at byte %d: a statement that does not end in its delimiter", w.scanner.Offset())
	}
	s := statement{body: trimmed[:len(trimmed)-len(delimiter)], trailer: piece[len(trimmed):], delimiter: delimiter}
	noBackslashEscapes, _, _ := w.scanner.Mode()
	tokens, err := sqlscript.Lex(s.body, noBackslashEscapes)
	if err != nil {
		// Without tokens: left as dumped and never changed (the client splits it as the scanner did).
		return s, nil
	}
	s.tokens, s.significant = tokens, sqlscript.Significant(tokens)
	return s, nil
}

// is says whether the statement begins with these words.
func (s statement) is(words ...string) bool {
	if len(s.significant) < len(words) {
		return false
	}
	for i, word := range words {
		if !sqlscript.IsWord(s.body, s.significant[i], word) {
			return false
		}
	}
	return true
}

// mayChange says whether a statement too long to hold is one the rewrite could change: it is
// then held up to maxHeld.
func (w *rewriter) mayChange(head []byte) bool {
	return !w.firstWordIs(head, "INSERT", "REPLACE")
}

// headRead says whether the lexer reads the statement's first word.
func (w *rewriter) headRead(piece []byte) bool {
	noBackslashEscapes, _, _ := w.before.Mode()
	return len(sqlscript.Leading(piece[:min(len(piece), 4096)], noBackslashEscapes, 1)) == 1
}

// firstWordIs says whether a statement's first significant word is one of these.
func (w *rewriter) firstWordIs(piece []byte, words ...string) bool {
	noBackslashEscapes, _, _ := w.before.Mode()
	first := sqlscript.Leading(piece[:min(len(piece), 4096)], noBackslashEscapes, 1)
	for _, word := range words {
		if len(first) == 1 && sqlscript.IsWord(piece, first[0], word) {
			return true
		}
	}
	return false
}

// flushPending writes the deferred keys' ALTER TABLE before this statement unless the statement
// is part of the table's rows: its INSERTs, the dump's DISABLE/ENABLE KEYS and table locks around
// them, and the SETs of the client's character set after the CREATE TABLE. A SET that may change
// sql_mode is not: the ALTER TABLE is read in the quoting its keys were read in.
func (w *rewriter) flushPending(piece []byte) error {
	if w.pending == nil || w.firstWordIs(piece, "INSERT", "REPLACE", "ALTER", "LOCK", "UNLOCK", "COMMIT") ||
		(w.firstWordIs(piece, "SET") && !containsSQLMode(piece)) {
		return nil
	}
	return w.placePending()
}

// placePending writes the pending ALTER TABLE, once the scanner has shown that the client reads
// it as exactly one statement at this point.
func (w *rewriter) placePending() error {
	if w.pending == nil {
		return nil
	}
	alter := w.pending
	w.pending = nil
	if !w.lineStart || !w.before.AtStatementStart() {
		return fmt.Errorf("the deferred keys cannot be added back at byte %d of the dump: no statement boundary at a line's start", w.before.Offset())
	}
	probe := w.before
	n, event, err := probe.Next(alter, true)
	if err != nil || event != sqlscript.StatementEnd || n != len(alter) {
		return fmt.Errorf("the deferred keys' ALTER TABLE would not be read as one statement (%v); refused", err)
	}
	return w.write(alter)
}

// deferKeys returns the CREATE TABLE without its secondary keys and the ALTER TABLE that adds
// them back, or nil when the table is left as dumped.
func (s statement) deferKeys() (create, alter []byte) {
	sig := s.significant
	if len(sig) < 5 || sig[2].Kind != sqlscript.Ident || !sqlscript.IsPunct(s.body, sig[3], '(') {
		return nil, nil
	}
	// The table's elements: runs of tokens between the top-level commas of its parentheses.
	type element struct{ first, last int }
	var elements []element
	var commas []int
	depth, start, closing := 0, 4, -1
	for i := 3; i < len(sig) && closing < 0; i++ {
		switch {
		case sqlscript.IsPunct(s.body, sig[i], '('):
			depth++
		case sqlscript.IsPunct(s.body, sig[i], ')'):
			depth--
			if depth == 0 {
				elements = append(elements, element{start, i - 1})
				closing = i
			}
		case depth == 1 && sqlscript.IsPunct(s.body, sig[i], ','):
			elements = append(elements, element{start, i - 1})
			commas = append(commas, i)
			start = i + 1
		}
	}
	if closing < 0 {
		return nil, nil
	}
	for _, t := range sig[closing+1:] {
		if sqlscript.IsWord(s.body, t, "VERSIONING") {
			return nil, nil
		}
	}
	var keys []int
	hasPrimary := false
	autoColumn, primaryFirst := "", ""
	for n, e := range elements {
		if e.first > e.last {
			return nil, nil
		}
		first := sig[e.first]
		word := func(k int, w string) bool { return k <= e.last && sqlscript.IsWord(s.body, sig[k], w) }
		switch {
		case first.Kind == sqlscript.Ident:
			for k := e.first + 1; k <= e.last; k++ {
				if word(k, "AUTO_INCREMENT") {
					autoColumn = sqlscript.Unquote(s.body, first)
				}
			}
		case word(e.first, "PRIMARY") && word(e.first+1, "KEY"):
			hasPrimary = true
			for k := e.first + 2; k <= e.last; k++ {
				if sig[k].Kind == sqlscript.Ident {
					primaryFirst = sqlscript.Unquote(s.body, sig[k])
					break
				}
			}
		case word(e.first, "KEY") || word(e.first, "INDEX") || word(e.first, "UNIQUE"):
			if n == 0 {
				return nil, nil
			}
			keys = append(keys, n)
		default:
			// CONSTRAINT, FOREIGN KEY, FULLTEXT, SPATIAL, CHECK, PERIOD, or anything else.
			return nil, nil
		}
	}
	if !hasPrimary || len(keys) == 0 || (autoColumn != "" && autoColumn != primaryFirst) {
		return nil, nil
	}
	// Each key is cut with the comma before it, up to its last token, so what follows (the
	// newline before ")") stays.
	create = append([]byte{}, s.body[:sig[commas[keys[0]-1]].Start]...)
	alter = append([]byte("ALTER TABLE "+sqlident.Quote(sqlscript.Unquote(s.body, sig[2]))), ' ')
	for i, n := range keys {
		e := elements[n]
		if i > 0 {
			create = append(create, s.body[sig[elements[keys[i-1]].last].End:sig[commas[n-1]].Start]...)
			alter = append(alter, ", "...)
		}
		alter = append(append(alter, "ADD "...), s.body[sig[e.first].Start:sig[e.last].End]...)
	}
	create = append(create, s.body[sig[elements[keys[len(keys)-1]].last].End:]...)
	create = append(append(create, s.delimiter...), s.trailer...)
	alter = append(append(alter, s.delimiter...), '\n')
	return create, alter
}

// definitionKinds are the objects whose CREATE statement may name a DEFINER.
var definitionKinds = []string{"VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "AGGREGATE", "PACKAGE"}

// stripDefiner returns the statement without the DEFINER clause of its head, or nil when its
// head has none: CREATE [OR REPLACE] [ALGORITHM = x] DEFINER = user@host [SQL SECURITY x] kind.
func (s statement) stripDefiner() []byte {
	sig, k := s.significant, 1
	word := func(w string) bool { return k < len(sig) && sqlscript.IsWord(s.body, sig[k], w) }
	if word("OR") {
		k += 2
	}
	if word("ALGORITHM") {
		k += 3
	}
	if !word("DEFINER") || k+4 >= len(sig) {
		return nil
	}
	definer := k
	quoted := func(t sqlscript.Token) bool { return t.Kind == sqlscript.Ident || t.Kind == sqlscript.String }
	if !sqlscript.IsPunct(s.body, sig[k+1], '=') || !quoted(sig[k+2]) || !sqlscript.IsPunct(s.body, sig[k+3], '@') || !quoted(sig[k+4]) {
		return nil
	}
	host := k + 4
	k += 5
	if word("SQL") {
		k += 3
	}
	isDefinition := false
	for _, kind := range definitionKinds {
		isDefinition = isDefinition || word(kind)
	}
	if !isDefinition {
		return nil
	}
	stripped := append([]byte{}, s.body[:sig[definer].Start]...)
	stripped = append(stripped, s.body[sig[host].End:]...)
	return append(append(stripped, s.delimiter...), s.trailer...)
}

// followSet keeps the scanner's quoting in step with a SET statement the client sends:
// mariadb-dump sets sql_mode from a literal before each trigger, routine and event, and restores
// it from a user variable. A value the rewrite cannot read makes the quoting unknown; a client
// character set whose characters may hold ASCII bytes is refused.
func (w *rewriter) followSet(s statement) error {
	for _, t := range s.significant {
		if t.Kind == sqlscript.Word || t.Kind == sqlscript.String {
			text := strings.ToLower(strings.Trim(string(s.body[t.Start:t.End]), "'\""))
			for _, charset := range unsafeCharsets {
				if text == charset {
					return w.unsafeCharset(charset)
				}
			}
		}
	}
	if !containsSQLMode(s.body) {
		return nil
	}
	for _, t := range s.tokens {
		if t.Kind == sqlscript.OpenExec {
			version, _ := strconv.Atoi(strings.TrimLeft(string(s.body[t.Start:t.End]), "/*M!"))
			if version > w.ServerVersion {
				w.scanner.SetMode(false, false, false)
				return nil
			}
		}
	}
	current := func() mode {
		n, a, k := w.scanner.Mode()
		return mode{n, a, k}
	}
	for _, assignment := range splitTopLevel(s.body, s.significant[1:]) {
		target, value, ok := splitAssignment(s.body, assignment)
		if !ok {
			w.scanner.SetMode(false, false, false)
			return nil
		}
		lhs, rhs := flatten(s.body, target), flatten(s.body, value)
		var next mode
		switch {
		case lhs == "sql_mode" || lhs == "sessionsql_mode" || lhs == "localsql_mode" || lhs == "@@sql_mode" ||
			lhs == "@@session.sql_mode" || lhs == "@@local.sql_mode":
			switch {
			case len(value) == 1 && value[0].Kind == sqlscript.String:
				next = parseMode(string(s.body[value[0].Start+1 : value[0].End-1]))
			case rhs == "@@sql_mode" || rhs == "@@session.sql_mode":
				next = current()
			case strings.HasPrefix(rhs, "@") && !strings.HasPrefix(rhs, "@@"):
				next = w.vars[rhs]
			}
			w.scanner.SetMode(next.noBackslashEscapes, next.ansiQuotes, next.known)
		case strings.HasPrefix(lhs, "@") && !strings.HasPrefix(lhs, "@@"):
			if rhs == "@@sql_mode" || rhs == "@@session.sql_mode" {
				w.vars[lhs] = current()
			} else {
				delete(w.vars, lhs)
			}
		case strings.Contains(lhs, "sql_mode") || strings.Contains(rhs, "sql_mode"):
			w.scanner.SetMode(false, false, false)
		}
	}
	return nil
}

// splitTopLevel cuts tokens at their top-level commas.
func splitTopLevel(text []byte, tokens []sqlscript.Token) [][]sqlscript.Token {
	var parts [][]sqlscript.Token
	depth, start := 0, 0
	for i, t := range tokens {
		switch {
		case sqlscript.IsPunct(text, t, '('):
			depth++
		case sqlscript.IsPunct(text, t, ')'):
			depth--
		case depth == 0 && sqlscript.IsPunct(text, t, ','):
			parts = append(parts, tokens[start:i])
			start = i + 1
		}
	}
	return append(parts, tokens[start:])
}

// splitAssignment cuts "target = value" (or :=).
func splitAssignment(text []byte, tokens []sqlscript.Token) (target, value []sqlscript.Token, ok bool) {
	for i, t := range tokens {
		if sqlscript.IsPunct(text, t, '=') {
			target = tokens[:i]
			if i > 0 && sqlscript.IsPunct(text, tokens[i-1], ':') {
				target = tokens[:i-1]
			}
			return target, tokens[i+1:], len(target) > 0 && i+1 < len(tokens)
		}
	}
	return nil, nil, false
}

// flatten is the tokens' text in lower case without what lies between them ("@@SESSION .
// sql_mode" is "@@session.sql_mode"); quoted tokens keep their quotes.
func flatten(text []byte, tokens []sqlscript.Token) string {
	var b strings.Builder
	for _, t := range tokens {
		b.Write(bytes.ToLower(text[t.Start:t.End]))
	}
	return b.String()
}

// parseMode reads an sql_mode literal: NO_BACKSLASH_ESCAPES, and the modes that make a double
// quote an identifier's.
func parseMode(literal string) mode {
	m := mode{known: !strings.ContainsAny(literal, "\\'\"")}
	for _, name := range strings.Split(strings.ToUpper(literal), ",") {
		switch strings.TrimSpace(name) {
		case "NO_BACKSLASH_ESCAPES":
			m.noBackslashEscapes = true
		case "ANSI_QUOTES", "ANSI", "ORACLE", "DB2", "MSSQL", "POSTGRESQL", "MAXDB":
			m.ansiQuotes = true
		}
	}
	return m
}
