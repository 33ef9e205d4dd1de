package preflight

import "testing"

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
