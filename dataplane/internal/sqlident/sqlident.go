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

// InList is a parenthesised IN list of one placeholder a name ("(?,?)") and the names as the
// query's arguments: names travel as values, never in the statement's text.
func InList(names []string) (string, []any) {
	args := make([]any, len(names))
	for i, name := range names {
		args[i] = name
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", len(names)), ",") + ")", args
}
