package main

import (
	"reflect"
	"testing"
)

func TestDatabaseList(t *testing.T) {
	for text, want := range map[string][]string{
		`["shop","my db","it's \"q\"*"]`: {"shop", "my db", `it's "q"*`},
		"shop  crm":                      {"shop", "crm"},
	} {
		got, err := databaseList(text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %q, %v", text, got, err)
		}
	}
	for _, bad := range []string{"", "[]", `["a",""]`, `["a\u0000b"]`, `[1]`} {
		if _, err := databaseList(bad); err == nil {
			t.Fatalf("%q: accepted", bad)
		}
	}
}
