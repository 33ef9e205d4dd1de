package preflight

import (
	"strings"
	"testing"
)

func TestACollationTheDestinationLacksIsKnownBeforeTheDump(t *testing.T) {
	for _, c := range []struct {
		sourceIsMariaDB bool
		destination     string
		collation       string
		unknown         bool
	}{
		{false, "mariadb 10.11", "utf8mb4_0900_ai_ci", true},
		{false, "mariadb 11.2", "utf8mb4_0900_as_cs", true},
		{false, "mariadb 11.4", "utf8mb4_0900_ai_ci", false},
		{false, "mariadb 10.11", "utf8mb4_unicode_520_ci", false},
		{false, "mysql 8.4", "utf8mb4_0900_ai_ci", false},
		{true, "mysql 8.4", "utf8mb4_uca1400_ai_ci", true},
		{true, "mariadb 11.4", "utf8mb4_uca1400_ai_ci", false},
		// An existing server ferry does not run: its flavour is not known, nothing is refused.
		{false, "", "utf8mb4_0900_ai_ci", false},
	} {
		if got := UnknownCollation(c.sourceIsMariaDB, ParseDestination(c.destination, 0), c.collation); got != c.unknown {
			t.Errorf("source MariaDB %v into %q, %s: unknown %v, want %v", c.sourceIsMariaDB, c.destination, c.collation, got, c.unknown)
		}
	}
}

func TestMembersAreReadAsTheServerWritesThem(t *testing.T) {
	for columnType, want := range map[string][]string{
		"enum('a','b')":     {"a", "b"},
		"enum('?','?','a')": {"?", "?", "a"},
		"set('it''s','x')":  {"it's", "x"},
		`enum('back\\slash','nul\0','line\nbreak\r')`: {`back\slash`, "nul\x00", "line\nbreak\r"},
		"enum('','a,b','(x)')":                        {"", "a,b", "(x)"},
		"enum('雪 ☃')":                                 {"雪 ☃"},
	} {
		got, err := Members(columnType)
		if err != nil {
			t.Errorf("%s: %v", columnType, err)
			continue
		}
		if strings.Join(got, "\x01") != strings.Join(want, "\x01") || len(got) != len(want) {
			t.Errorf("%s: got %q, want %q", columnType, got, want)
		}
	}
	for _, bad := range []string{"int(11)", "enum()", "enum('a' 'b')", "enum('a',)", "enum('a'", `enum('\x')`, `enum("a")`, "enum(a)", "enum('a','b'"} {
		if got, err := Members(bad); err == nil {
			t.Errorf("%s: read as %q, want an error", bad, got)
		}
	}
}
