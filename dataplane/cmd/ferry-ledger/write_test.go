package main

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestReadOnlyIsTheServersReadOnlyRefusalOnly(t *testing.T) {
	readOnlyRefusal := &mysql.MySQLError{Number: 1290, Message: "The MariaDB server is running with the --read-only option so it cannot execute this statement"}
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"read-only":          {readOnlyRefusal, true},
		"read-only, wrapped": {fmt.Errorf("insert: %w", readOnlyRefusal), true},
		"a duplicate key":    {&mysql.MySQLError{Number: 1062}, false},
		"a lost connection":  {errors.New("driver: bad connection"), false},
	} {
		if got := readOnly(c.err); got != c.want {
			t.Errorf("%s: readOnly = %v, want %v", name, got, c.want)
		}
	}
}

func TestServersMoveOnlyOnAReadOnlyRefusalAndOnlyWithTwo(t *testing.T) {
	first, second := &sql.DB{}, &sql.DB{}
	readOnlyRefusal := &mysql.MySQLError{Number: 1290}
	s := &servers{dbs: []*sql.DB{first, second}}
	if s.refused(&mysql.MySQLError{Number: 1062}) || s.current() != first {
		t.Fatal("moved on a refusal other than read-only")
	}
	if !s.refused(readOnlyRefusal) || s.current() != second {
		t.Fatal("did not move to the second server when the first refused as read-only")
	}
	if !s.refused(readOnlyRefusal) || s.current() != first {
		t.Fatal("did not move back when the second refused as read-only")
	}
	alone := &servers{dbs: []*sql.DB{first}}
	if alone.refused(readOnlyRefusal) || alone.current() != first {
		t.Fatal("one server: moved")
	}
}
