// Package logline keeps a log line one line: what a step prints may hold names and values from
// the databases (a table name with a newline), and a line break or a terminal control in one would
// let it forge lines in the step's log, in the pod's termination message and in pulumi up.
package logline

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape writes every control character (C0, DEL, C1), line and paragraph separator, and
// bidirectional formatting character of s as an escape (\n, \r, \t, \x1b, \u2028, ...), and every
// byte that is not UTF-8 as \xNN. Text without them is returned as it is, so escaping twice
// changes nothing more.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && special(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case special(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || special(r) {
			return true
		}
		i += size
	}
	return false
}

// special: a control character, a line or paragraph separator, or a bidirectional formatting
// character (which can make a terminal show a line's text in another order).
func special(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f'
}
