package verify

import (
	"strings"
	"testing"

	"ferry.local/dataplane/internal/digest"
)

func TestCompareNamesEveryKindOfDifference(t *testing.T) {
	table := digest.Object{Kind: digest.Table, Database: "d", Name: "t", Definition: "a", Rows: 2, Content: "2:5"}
	view := digest.Object{Kind: digest.View, Database: "d", Name: "v", Definition: "b"}
	seq := digest.Object{Kind: digest.Sequence, Database: "d", Name: "s", Definition: "c", Content: "1:1"}
	expected := []digest.Object{table, view, seq}
	if got := Compare(expected, expected); len(got) != 0 {
		t.Fatalf("equal objects differ: %v", got)
	}
	changedRows, changedContent, changedSeq, changedDef := table, table, seq, view
	changedRows.Rows = 3
	changedContent.Content = "2:6"
	changedSeq.Content = "1:2"
	changedDef.Definition = "z"
	extra := digest.Object{Kind: digest.Trigger, Database: "d", Name: "x", Definition: "e"}
	for _, c := range []struct {
		actual []digest.Object
		want   string
	}{
		{[]digest.Object{view, seq}, "table `d`.`t`: missing on the destination"},
		{[]digest.Object{changedRows, view, seq}, "table `d`.`t`: 3 rows on the destination, 2 in the dump"},
		{[]digest.Object{changedContent, view, seq}, "table `d`.`t`: its 2 rows differ"},
		{[]digest.Object{table, view, changedSeq}, "sequence `d`.`s`: its state 1:2 differs"},
		{[]digest.Object{table, changedDef, seq}, "view `d`.`v`: its definition differs"},
		{[]digest.Object{table, view, seq, extra}, "trigger `d`.`x`: on the destination but not in the dump"},
	} {
		got := Compare(expected, c.actual)
		if len(got) != 1 || !strings.HasPrefix(got[0].Object+": "+got[0].Problem, c.want) {
			t.Errorf("want one mismatch %q, got %v", c.want, got)
		}
	}
}
