package dump

import (
	"reflect"
	"testing"
)

func names(s Stream) []string {
	var out []string
	for _, t := range s.Tables {
		out = append(out, t.Database+"."+t.Name)
	}
	return out
}

func TestPlanKeepsForeignKeyGroupsTogetherAndBalancesCost(t *testing.T) {
	tables := []Table{
		{Database: "a", Name: "big", Cost: 100},
		{Database: "a", Name: "parent", Cost: 30},
		{Database: "b", Name: "child", Cost: 40},
		{Database: "a", Name: "small", Cost: 5},
		{Database: "a", Name: "v\tiew", View: true},
	}
	fks := []ForeignKey{{Database: "b", Table: "child", ParentDatabase: "a", ParentTable: "parent"}}
	plan := Plan(tables, fks, 2)
	if len(plan) != 3 || plan[2].Name != "definitions" {
		t.Fatalf("want two data streams and definitions, got %+v", plan)
	}
	if got := names(plan[0]); !reflect.DeepEqual(got, []string{"a.big"}) {
		t.Fatalf("data-1 = %v", got)
	}
	if got := names(plan[1]); !reflect.DeepEqual(got, []string{"a.parent", "b.child", "a.small"}) {
		t.Fatalf("data-2 = %v", got)
	}
	if got := names(plan[2]); !reflect.DeepEqual(got, []string{"a.v\tiew"}) {
		t.Fatalf("definitions = %v", got)
	}
	ignore := IgnoreArguments(plan, "data-1")
	want := []string{"--ignore-table=a.parent", "--ignore-table=b.child", "--ignore-table=a.small", "--ignore-table=a.v\tiew"}
	if !reflect.DeepEqual(ignore, want) {
		t.Fatalf("ignore = %q", ignore)
	}
}

func TestPlanHasNoMoreStreamsThanGroups(t *testing.T) {
	plan := Plan([]Table{{Database: "a", Name: "only", Cost: 1}}, nil, 8)
	if len(plan) != 2 || plan[0].Name != "data-1" || plan[1].Name != "definitions" {
		t.Fatalf("got %+v", plan)
	}
	if empty := Plan(nil, nil, 4); len(empty) != 1 || empty[0].Name != "definitions" {
		t.Fatalf("a source without tables: got %+v", empty)
	}
}
