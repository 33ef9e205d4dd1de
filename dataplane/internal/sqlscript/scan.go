package sqlscript

import (
	"bytes"
	"fmt"
	"strconv"
)

// Event is what Scanner.Next found at the end of the bytes it consumed.
type Event int

const (
	// More: the bytes were consumed; the statement goes on.
	More Event = iota
	// StatementEnd: the bytes consumed end a statement the client sends: its delimiter and, when
	// the rest of its line is blank, that rest and the newline.
	StatementEnd
	// DelimiterLine: the bytes consumed are a DELIMITER line, which the client keeps to itself.
	DelimiterLine
)

// UnfollowedError says where a script does something the client may read otherwise than the
// server would, or otherwise than Scanner can tell: the script is refused, not guessed at.
type UnfollowedError struct{ What string }

func (e *UnfollowedError) Error() string { return e.What }

func unfollowed(format string, args ...any) error {
	return &UnfollowedError{What: fmt.Sprintf(format, args...)}
}

// Scanner follows a script byte by byte as the mariadb client (10.11, started with --comments
// and an ASCII-compatible character set) splits it into statements: quotes, comments, executable
// comments, DELIMITER lines and the session's NO_BACKSLASH_ESCAPES. Where the client and the
// server could disagree about what is a comment or a quote (a delimiter or a quote inside an
// executable comment the server skips, a client command such as \! outside quotes, a double quote
// under ANSI_QUOTES), Next returns an UnfollowedError.
type Scanner struct {
	delimiter     []byte
	serverVersion int
	// The session's quoting, as far as it is known (SetMode).
	noBackslashEscapes, ansiQuotes, modeKnown bool

	quote       byte // inside '...', "..." or `...`
	ml          bool // inside /* ... */
	exec        bool // inside an executable comment or a hint
	execSkipped bool // ... that the server skips (a newer version, or a hint)
	lineComment bool
	lineStart   bool
	empty       bool // the statement holds no SQL yet (only blanks and comments)
	afterEscape bool // the previous byte was a backslash inside a string
	offset      int64
	// special marks the bytes the normal state must look at; the rest are passed over.
	special [256]bool
}

// NewScanner starts at the top of a script, delimiter ";"; serverVersion is the destination's
// version as a number (10.11.19 is 101119), which decides which executable comments it runs.
func NewScanner(serverVersion int) *Scanner {
	s := &Scanner{serverVersion: serverVersion, lineStart: true, empty: true}
	s.setDelimiter([]byte(";"))
	return s
}

func (s *Scanner) setDelimiter(d []byte) {
	s.delimiter = append([]byte{}, d...)
	s.special = [256]bool{}
	for _, c := range []byte("\n\\#-/*'\"`") {
		s.special[c] = true
	}
	s.special[d[0]] = true
}

// at is data[k], or 0 past its end.
func at(data []byte, k int) byte {
	if k < len(data) {
		return data[k]
	}
	return 0
}

// clientSpace is what the client's parser takes for whitespace (the server also takes other
// control bytes).
func clientSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Delimiter is the client's current delimiter.
func (s *Scanner) Delimiter() []byte { return s.delimiter }

// Offset is how many bytes of the script have been consumed.
func (s *Scanner) Offset() int64 { return s.offset }

// AtStatementStart says whether the client holds nothing of a statement: no quote, comment or
// statement is open.
func (s *Scanner) AtStatementStart() bool {
	return s.empty && s.quote == 0 && !s.ml && !s.exec && !s.lineComment
}

// SetMode records the session's sql_mode after a statement changed it; known is false when the
// statement set a value the caller could not read (the quoting is then taken as unknown).
func (s *Scanner) SetMode(noBackslashEscapes, ansiQuotes, known bool) {
	s.noBackslashEscapes, s.ansiQuotes, s.modeKnown = noBackslashEscapes, ansiQuotes, known
}

// Mode is the session's quoting as the scanner takes it.
func (s *Scanner) Mode() (noBackslashEscapes, ansiQuotes, known bool) {
	return s.noBackslashEscapes, s.ansiQuotes, s.modeKnown
}

// lookahead is the most bytes Next needs past a position to decide it (a client command word).
const lookahead = 16

// maxCommandLine bounds a DELIMITER line.
const maxCommandLine = 4096

// clientCommands are the words the client runs itself at the start of a statement's first line.
var clientCommands = []string{"?", "clear", "connect", "delimiter", "edit", "ego", "exit", "go", "help",
	"nopager", "notee", "pager", "print", "prompt", "quit", "rehash", "source", "status", "system", "tee",
	"use", "charset", "warnings", "nowarning", "sandbox"}

// Next consumes data (the script's next bytes; eof when no more follow) up to the end of a
// statement or a DELIMITER line, or as far as it can decide without more bytes.
func (s *Scanner) Next(data []byte, eof bool) (int, Event, error) {
	n, ev, err := s.next(data, eof)
	s.offset += int64(n)
	return n, ev, err
}

func (s *Scanner) next(data []byte, eof bool) (int, Event, error) {
	i := 0
	for i < len(data) {
		if s.lineComment {
			nl := bytes.IndexByte(data[i:], '\n')
			if nl < 0 {
				return len(data), More, nil
			}
			i += nl + 1
			s.lineComment, s.lineStart = false, true
			continue
		}
		if s.lineStart {
			if s.empty && s.quote == 0 && !s.ml && !s.exec {
				n, ev, wait, err := s.commandLine(data[i:], eof)
				if err != nil || wait {
					return i, More, err
				}
				if ev == DelimiterLine {
					return i + n, DelimiterLine, nil
				}
			}
			s.lineStart = false
		}
		if s.ml {
			end := bytes.Index(data[i:], []byte("*/"))
			if end < 0 {
				// Keep a trailing '*' for the next call: it may open the "*/".
				keep := len(data)
				if !eof && data[keep-1] == '*' {
					keep--
				}
				s.noteNewlines(data[i:keep])
				return keep, More, nil
			}
			s.noteNewlines(data[i : i+end])
			i += end + 2
			s.ml = false
			continue
		}
		c := data[i]
		if s.quote != 0 {
			var err error
			if i, err = s.inQuote(data, i); err != nil {
				return i, More, err
			}
			continue
		}
		if !s.special[c] {
			if !isSpace(c) {
				s.empty = false
			}
			i++
			continue
		}
		if c == '\n' {
			i++
			s.lineStart = true
			continue
		}
		// Decisions below look at up to four bytes; wait for them unless the script ends.
		if !eof && len(data)-i < max(4, len(s.delimiter)+1) {
			return i, More, nil
		}
		if c == '\\' {
			next := at(data, i+1)
			switch next {
			case 'N':
				s.empty = false
				i += 2
			case '-':
				// \- turns the client's sandbox on (mariadb-dump's first line): it only forbids.
				i += 2
			default:
				return i, More, unfollowed("a client command (backslash %q) outside quotes", string(next))
			}
			continue
		}
		if bytes.HasPrefix(data[i:], s.delimiter) {
			if s.exec {
				return i, More, unfollowed("the delimiter %q inside an executable comment: the client would end the statement there, the server would not", s.delimiter)
			}
			end := i + len(s.delimiter)
			for end < len(data) && (data[end] == ' ' || data[end] == '\t' || data[end] == '\r') {
				end++
			}
			if end < len(data) && data[end] == '\n' {
				end++
				s.lineStart = true
			} else if end == len(data) && !eof {
				return i, More, nil
			}
			s.empty = true
			return end, StatementEnd, nil
		}
		dashes := c == '-' && at(data, i+1) == '-'
		switch {
		case (c == '#' || dashes) && s.execSkipped:
			return i, More, unfollowed("a line comment inside an executable comment the server skips: the client would end the comment at the line's end, the server at */")
		case c == '#' || (dashes && (i+2 == len(data) || clientSpace(data[i+2]))):
			s.lineComment = true
			i++
			continue
		case dashes && (data[i+2] < 0x20 || data[i+2] == 0x7f):
			return i, More, unfollowed("%q followed by the control byte 0x%02x: the server reads a comment there, the client does not", "--", data[i+2])
		case dashes && s.empty:
			return i, More, unfollowed("%q followed by %q at the start of a statement, which the client takes for a comment and the server does not", "--", string(data[i+2]))
		case c == '/' && at(data, i+1) == '*':
			rest := data[i+2:]
			execStart := bytes.HasPrefix(rest, []byte("!")) || bytes.HasPrefix(rest, []byte("+")) || bytes.HasPrefix(rest, []byte("M!"))
			if s.exec {
				return i, More, unfollowed("a comment inside an executable comment")
			}
			if !execStart {
				s.ml = true
				i += 2
				continue
			}
			s.exec, s.empty = true, false
			if bytes.HasPrefix(rest, []byte("+")) {
				s.execSkipped = true
				i += 3
				continue
			}
			i += 2 + bytes.IndexByte(rest, '!') + 1
			digits := i
			for digits < len(data) && digits-i < 6 && data[digits] >= '0' && data[digits] <= '9' {
				digits++
			}
			if !eof && digits == len(data) {
				return i, More, nil
			}
			version, _ := strconv.Atoi(string(data[i:digits]))
			s.execSkipped = digits > i && version > s.serverVersion
			i = digits
			continue
		case c == '*' && s.exec && at(data, i+1) == '/':
			s.exec, s.execSkipped = false, false
			i += 2
			continue
		case c == '\'' || c == '"' || c == '`':
			if s.execSkipped {
				return i, More, unfollowed("a quote inside an executable comment the server skips: the client would read a string there, the server a comment")
			}
			if c == '"' && (s.ansiQuotes || !s.modeKnown) {
				return i, More, unfollowed("a double quote where the session's sql_mode (ANSI_QUOTES, or unknown) decides what it is")
			}
			s.quote, s.empty = c, false
			i++
			continue
		}
		if !isSpace(c) {
			s.empty = false
		}
		i++
	}
	return i, More, nil
}

// inQuote consumes a quoted run from data[i] to its closing quote or the data's end.
func (s *Scanner) inQuote(data []byte, i int) (int, error) {
	escapes := s.quote != '`' && !s.noBackslashEscapes
	for i < len(data) {
		c := data[i]
		if s.afterEscape {
			// The client keeps a backslash and the byte after it together, but a line's end is
			// not escaped: the client reads lines.
			s.afterEscape = false
			if c != '\n' {
				i++
				continue
			}
		}
		switch {
		case c == '\\' && s.quote != '`' && !s.modeKnown:
			return i, unfollowed("a backslash in a string while the session's sql_mode (NO_BACKSLASH_ESCAPES or not) is unknown")
		case c == '\\' && escapes:
			s.afterEscape = true
		case c == s.quote:
			s.quote = 0
			return i + 1, nil
		}
		i++
	}
	return i, nil
}

func (s *Scanner) noteNewlines(b []byte) {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		s.lineStart = true
	}
}

// commandLine looks at a line that starts while no statement is open: the client runs a line
// that starts with one of its command words itself. A DELIMITER line is followed; any other
// command is refused. wait asks for more bytes.
func (s *Scanner) commandLine(data []byte, eof bool) (n int, ev Event, wait bool, err error) {
	j := 0
	for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\r') {
		j++
	}
	wordEnd := j
	for wordEnd < len(data) && wordEnd-j <= lookahead && !isSpace(data[wordEnd]) {
		wordEnd++
	}
	if wordEnd == len(data) && !eof {
		return 0, More, true, nil
	}
	word := data[j:wordEnd]
	isCommand := false
	for _, name := range clientCommands {
		if bytes.EqualFold(word, []byte(name)) {
			isCommand = true
		}
	}
	if !isCommand {
		return 0, More, false, nil
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 && !eof {
		if len(data) > maxCommandLine {
			return 0, More, false, unfollowed("a client command line longer than %d bytes", maxCommandLine)
		}
		return 0, More, true, nil
	}
	line := data
	if nl >= 0 {
		line = data[:nl+1]
	}
	if !bytes.EqualFold(word, []byte("delimiter")) {
		if bytes.Contains(line, s.delimiter) && !bytes.Contains(line, []byte(`\g`)) {
			// A statement such as "USE `db`;": the client sends it (or runs its own USE, the same).
			return 0, More, false, nil
		}
		return 0, More, false, unfollowed("a line the client runs as its own command %q", word)
	}
	fields := bytes.Fields(line[wordEnd:])
	if len(fields) == 0 || bytes.ContainsAny(fields[0], "'\"`\\") || len(fields[0]) > 15 {
		return 0, More, false, unfollowed("a DELIMITER line ferry does not follow: %q", bytes.TrimSpace(line))
	}
	s.setDelimiter(fields[0])
	s.lineStart = nl >= 0
	return len(line), DelimiterLine, false, nil
}
