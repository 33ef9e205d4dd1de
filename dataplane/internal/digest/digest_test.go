package digest

import (
	"database/sql"
	"math/big"
	"strings"
	"testing"
)

func TestNormaliseLeavesOutOnlyTheDefinerClauseAndTheCounter(t *testing.T) {
	view := "CREATE ALGORITHM=UNDEFINED DEFINER=`ro``ot`@`%` SQL SECURITY DEFINER VIEW `v` AS select 'DEFINER=`a`@`b`' AS `x`"
	if got := normalise(View, view); got != "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 'DEFINER=`a`@`b`' AS `x`" {
		t.Errorf("view: %q", got)
	}
	table := "CREATE TABLE `t` (\n  `c` varchar(30) DEFAULT ' AUTO_INCREMENT=5'\n) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4"
	got := normalise(Table, table)
	if !strings.Contains(got, "DEFAULT ' AUTO_INCREMENT=5'") || strings.Contains(got, "AUTO_INCREMENT=42") {
		t.Errorf("table: %q", got)
	}
}

func TestRowQueryQuotesEveryName(t *testing.T) {
	query := rowQuery(Object{Database: "d`b", Name: "t'1", columns: []column{
		{name: "*/ FROM DUAL;#", dataType: "int"}, {name: "f", dataType: "float"}, {name: "b", dataType: "longblob"},
	}})
	for _, part := range []string{"`d``b`.`t'1`", "CAST(`*/ FROM DUAL;#` AS BINARY)",
		"CAST(CAST(`f` AS DOUBLE) AS BINARY)", "MD5(CAST(`b` AS BINARY))"} {
		if !strings.Contains(query, part) {
			t.Errorf("query lacks %s: %s", part, query)
		}
	}
}

func digestOf(rows ...[]sql.RawBytes) string {
	var sum RowSum
	for _, row := range rows {
		sum.Add(row)
	}
	return sum.String()
}

func TestRowsThatDifferInAnyWayDigestApart(t *testing.T) {
	row := func(values ...string) []sql.RawBytes {
		out := make([]sql.RawBytes, len(values))
		for i, v := range values {
			if v != "<NULL>" {
				out[i] = sql.RawBytes(v)
			}
		}
		return out
	}
	cases := [][]sql.RawBytes{
		row("a", "<NULL>"), row("a", ""), row("a", "NULL"), row("a", "\\N"),
		row("ab", "c"), row("a", "bc"), row("abc"), row("abc", ""), row("", "abc"),
		row("a", "b", "<NULL>"), row("a", "b"), row("a\x00", "b"), row("a", "\x00b"),
	}
	seen := map[string]int{}
	for i, c := range cases {
		d := digestOf(c)
		if j, clash := seen[d]; clash {
			t.Errorf("rows %d and %d digest alike: %s", j, i, d)
		}
		seen[d] = i
	}
}

func TestATablesDigestCountsEveryRowAndIgnoresTheirOrder(t *testing.T) {
	a, b := []sql.RawBytes{sql.RawBytes("1")}, []sql.RawBytes{sql.RawBytes("2")}
	if digestOf(a, b) != digestOf(b, a) {
		t.Error("the order of the rows changed the digest")
	}
	if digestOf(a, a) == digestOf(a) || digestOf(a, a, b, b) == digestOf(b, b, a, a, a) {
		t.Error("a duplicated row went uncounted")
	}
	if got := digestOf(); got != "0:0" {
		t.Errorf("empty table: %s", got)
	}
}

func TestTheSumIsExactPastSixtyFourBits(t *testing.T) {
	var sum RowSum
	sum.lo = ^uint64(0)
	sum.lo -= 1
	sum.Add([]sql.RawBytes{sql.RawBytes("x")}) // its digest is far above 1: the low word carries
	if sum.hi != 1 {
		t.Fatalf("no carry into the high word: %d:%d", sum.hi, sum.lo)
	}
	total, _ := new(big.Int).SetString(strings.TrimPrefix(sum.String(), "1:"), 10)
	twoTo64 := new(big.Int).Lsh(big.NewInt(1), 64)
	if total == nil || total.Cmp(twoTo64) < 0 || total.Cmp(new(big.Int).Lsh(twoTo64, 1)) >= 0 {
		t.Errorf("not between 2^64 and 2^65, or not decimal: %s", sum.String())
	}
}
