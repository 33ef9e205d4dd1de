// Package sqlident is the one place where ferry's data plane turns a name into SQL text. Every
// identifier a statement names (database, table, column, routine, ...) goes through Quote; values
// never become SQL text at all (they are bound as statement parameters).
package sqlident

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Check tells whether the server could hold the name at all: MySQL and MariaDB identifiers are
// valid UTF-8 without NUL. A name that fails is refused with the object named, never rewritten.
func Check(name string) error {
	if name == "" {
		return fmt.Errorf("an empty identifier")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("identifier %q is not valid UTF-8", name)
	}
	if strings.ContainsRune(name, 0) {
		return fmt.Errorf("identifier %q contains a NUL byte", name)
	}
	return nil
}

// Quote returns name as a backtick-quoted identifier: inside backticks only the backtick itself
// is special, and it is written twice. The result is one token whatever the name holds (quotes,
// backslashes, comment markers, semicolons, newlines), in every sql_mode but ANSI_QUOTES, which
// ferry's sessions never set.
func Quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Qualified returns `schema`.`name`.
func Qualified(schema, name string) string {
	return Quote(schema) + "." + Quote(name)
}

// Unquote reads back one quoted identifier from the start of text: the name and the rest of the
// text after it. It is the inverse of Quote, used by tests and by the parsing of SHOW CREATE output.
func Unquote(text string) (name, rest string, err error) {
	if !strings.HasPrefix(text, "`") {
		return "", text, fmt.Errorf("not a quoted identifier: %q", text)
	}
	var b strings.Builder
	for i := 1; i < len(text); i++ {
		if text[i] != '`' {
			b.WriteByte(text[i])
			continue
		}
		if i+1 < len(text) && text[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), text[i+1:], nil
	}
	return "", text, fmt.Errorf("unterminated quoted identifier: %q", text)
}
