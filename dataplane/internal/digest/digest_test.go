package digest

import (
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

func TestValueExpressionsQuoteEveryName(t *testing.T) {
	query := rowDigestQuery(Object{Database: "d`b", Name: "t'1", columns: []column{
		{name: "*/ FROM DUAL;#", dataType: "int"}, {name: "f", dataType: "float"}, {name: "b", dataType: "longblob"},
	}})
	for _, part := range []string{"`d``b`.`t'1`", "QUOTE(CAST(`*/ FROM DUAL;#` AS BINARY))",
		"QUOTE(CAST(CAST(`f` AS DOUBLE) AS BINARY))", "MD5(CAST(`b` AS BINARY))"} {
		if !strings.Contains(query, part) {
			t.Errorf("query lacks %s: %s", part, query)
		}
	}
}
