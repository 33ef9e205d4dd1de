package replica

import (
	"database/sql"
	"strings"
	"testing"

	"ferry.local/dataplane/internal/conn"
)

var source = Source{Host: "db.old.example", Port: 3306, User: "repl", Password: "p'w\\d?", CAFile: "/var/run/ferry/source-ca/ca.crt", VerifyIdentity: true}

// hostile names: quotes, a comment opener, a placeholder, a newline, a backtick.
var hostile = []string{"shop", "it's", "a?b", "x/*y", "line\nbreak", "back`tick"}

func TestPlanMariaDBStartsAtTheManifestsGTIDWithEveryValueAnArgument(t *testing.T) {
	plan, err := Plan(conn.MariaDB, source, Position{GTID: "0-1-42,7-3-9"}, hostile)
	if err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, s := range plan {
		sqls = append(sqls, s.SQL)
		// The driver inlines one argument a placeholder: never a name or a value in the text.
		if got := strings.Count(s.SQL, "?"); got != len(s.Args) {
			t.Fatalf("%q: %d placeholders for %d arguments", s.SQL, got, len(s.Args))
		}
		for _, name := range hostile[1:] {
			if strings.Contains(s.SQL, name) {
				t.Fatalf("a name in the text of %q", s.SQL)
			}
		}
		if strings.Contains(s.SQL, source.Password) || strings.Contains(s.SQL, source.Host) {
			t.Fatalf("a value in the text of %q", s.SQL)
		}
	}
	want := []string{"STOP SLAVE", "SET GLOBAL gtid_slave_pos = ?", "SET GLOBAL replicate_wild_do_table = ?",
		"CHANGE MASTER TO", "SET GLOBAL read_only = ON", "START SLAVE"}
	if len(sqls) != len(want) {
		t.Fatalf("plan: %q", sqls)
	}
	for i, prefix := range want {
		if !strings.HasPrefix(sqls[i], prefix) {
			t.Fatalf("statement %d: %q, want %q", i, sqls[i], prefix)
		}
	}
	if plan[1].Args[0] != "0-1-42,7-3-9" {
		t.Fatalf("start: %v", plan[1].Args)
	}
	// Every table of each database: the name's own wildcards and backslashes escaped.
	if plan[2].Args[0] != "shop.%,it's.%,a?b.%,x/*y.%,line\nbreak.%,back`tick.%" {
		t.Fatalf("filter: %v", plan[2].Args)
	}
	plan, _ = Plan(conn.MariaDB, source, Position{}, []string{`a_b%c\d`})
	if plan[2].Args[0] != `a\_b\%c\\d.%` {
		t.Fatalf("escaped filter: %v", plan[2].Args)
	}
	change := plan[3]
	for _, part := range []string{"MASTER_SSL = 1", "MASTER_USE_GTID = slave_pos"} {
		if !strings.Contains(change.SQL, part) {
			t.Fatalf("%q lacks %q", change.SQL, part)
		}
	}
	if change.Args[0] != source.Host || change.Args[1] != 3306 || change.Args[3] != source.Password || change.Args[4] != source.CAFile || change.Args[5] != 1 {
		t.Fatalf("change: %v", change.Args)
	}
	// verify-ca: the chain, not the name.
	chainOnly := source
	chainOnly.VerifyIdentity = false
	plan, _ = Plan(conn.MariaDB, chainOnly, Position{}, []string{"shop"})
	if plan[3].Args[5] != 0 || plan[1].Args[0] != "" {
		t.Fatalf("chain only, from an empty position: %v %v", plan[3].Args, plan[1].Args)
	}
}

func TestPlanMySQLByAutoPositionOrFileAndOffset(t *testing.T) {
	gtid := "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"
	plan, err := Plan(conn.MySQL, source, Position{GTID: gtid, File: "binlog.000002", Offset: "157"}, hostile)
	if err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, s := range plan {
		sqls = append(sqls, s.SQL)
		if got := strings.Count(s.SQL, "?"); got != len(s.Args) {
			t.Fatalf("%q: %d placeholders for %d arguments", s.SQL, got, len(s.Args))
		}
	}
	if plan[1].SQL != "SET GLOBAL gtid_purged = ?" || plan[1].Args[0] != "+"+gtid {
		t.Fatalf("gtid_purged: %+v", plan[1])
	}
	// The filter's patterns are arguments, one a database.
	filter := plan[2]
	if filter.SQL != "CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = (?, ?, ?, ?, ?, ?)" || len(filter.Args) != 6 || filter.Args[2] != "a?b.%" {
		t.Fatalf("filter: %q %v", filter.SQL, filter.Args)
	}
	if !strings.Contains(plan[3].SQL, "SOURCE_AUTO_POSITION = 1") || strings.Contains(plan[3].SQL, "SOURCE_LOG_FILE") {
		t.Fatalf("change: %q", plan[3].SQL)
	}
	if plan[4].SQL != "SET GLOBAL super_read_only = ON" || plan[5].SQL != "START REPLICA" {
		t.Fatalf("plan: %q", sqls)
	}
	// Without GTIDs: the file and the offset, a number.
	plan, err = Plan(conn.MySQL, source, Position{File: "binlog.000002", Offset: "157"}, []string{"shop"})
	if err != nil {
		t.Fatal(err)
	}
	change := plan[2]
	if !strings.Contains(change.SQL, "SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?") {
		t.Fatalf("change: %q", change.SQL)
	}
	if n := len(change.Args); change.Args[n-2] != "binlog.000002" || change.Args[n-1] != uint64(157) {
		t.Fatalf("change: %v", change.Args)
	}
	for _, s := range plan {
		if strings.HasPrefix(s.SQL, "SET GLOBAL gtid_purged") {
			t.Fatal("gtid_purged set without GTIDs")
		}
	}
}

func TestPlanRefusesWhatCannotReplicate(t *testing.T) {
	for name, c := range map[string]struct {
		flavor    conn.Flavor
		source    Source
		from      Position
		databases []string
		want      string
	}{
		"a comma in a MariaDB filter": {conn.MariaDB, source, Position{}, []string{"a,b"}, "holds a comma"},
		"no CA":                       {conn.MariaDB, Source{Host: "h", Port: 1, User: "u"}, Position{}, []string{"a"}, "verified TLS only"},
		"no database":                 {conn.MariaDB, source, Position{}, nil, "no database"},
		"no host":                     {conn.MariaDB, Source{Port: 1, User: "u", CAFile: "c"}, Position{}, []string{"a"}, "incomplete"},
		"a port out of range":         {conn.MySQL, Source{Host: "h", Port: 70000, User: "u", CAFile: "c"}, Position{}, []string{"a"}, "incomplete"},
		"port 0":                      {conn.MariaDB, Source{Host: "h", Port: 0, User: "u", CAFile: "c"}, Position{}, []string{"a"}, "incomplete"},
		"port 65536":                  {conn.MariaDB, Source{Host: "h", Port: 65536, User: "u", CAFile: "c"}, Position{}, []string{"a"}, "incomplete"},
		"MySQL without a position":    {conn.MySQL, source, Position{}, []string{"a"}, "binary log was off"},
		"an offset not a number":      {conn.MySQL, source, Position{File: "f", Offset: "1; DROP"}, []string{"a"}, "not a number"},
		"another flavor":              {conn.Flavor("Oracle"), source, Position{}, []string{"a"}, "unknown server flavor"},
	} {
		if _, err := Plan(c.flavor, c.source, c.from, c.databases); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestPlanTakesEveryPort(t *testing.T) {
	for _, port := range []int{1, 3306, 65535} {
		if _, err := Plan(conn.MariaDB, Source{Host: "h", Port: port, User: "u", CAFile: "c"}, Position{}, []string{"a"}); err != nil {
			t.Errorf("port %d: %v", port, err)
		}
	}
}

func TestBehindCountsTransactionsNotApplied(t *testing.T) {
	for _, c := range []struct {
		source, applied string
		want            int64
	}{
		{"0-1-100", "0-1-100", 0},
		{"0-1-100", "0-1-90", 10},
		{"0-1-100,1-5-7", "0-1-90", 17},
		// A domain the replica has gone past (its own writes) counts nothing.
		{"0-1-100", "0-1-120", 0},
		{"", "", 0},
		{"0-1-5", "", 5},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-90", 10},
		{"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-100:200-209", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-50:40-100", 10},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3", "4e11fa47-71ca-11e1-9e33-c80aa9429562:2", 12},
		// Intervals that overlap count once (a set as MySQL would never print it, but as given).
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:5-9", 1},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10", "3e11fa47-71ca-11e1-9e33-c80aa9429562:4-6:1-5", 4},
	} {
		got, err := Behind(c.source, c.applied)
		if err != nil || got != c.want {
			t.Errorf("Behind(%q, %q) = %d, %v; want %d", c.source, c.applied, got, err, c.want)
		}
	}
	for _, bad := range [][2]string{{"0-1", ""}, {"0-1-x", ""}, {"0-1-2,0-2-3", ""}, {"short:1-2", ""}, {"3e11fa47-71ca-11e1-9e33-c80aa9429562:5-1", ""}, {"3e11fa47-71ca-11e1-9e33-c80aa9429562:0", ""}, {"0-1-2", "x"}} {
		if _, err := Behind(bad[0], bad[1]); err == nil {
			t.Errorf("Behind(%q, %q): no error", bad[0], bad[1])
		}
	}
}

func TestStateAndExplain(t *testing.T) {
	running := Status{Configured: true, IORunning: "Yes", SQLRunning: "Yes", SecondsBehind: sql.NullInt64{Int64: 3, Valid: true}}
	if running.State() != Replicating || Explain(running) != "" {
		t.Fatalf("%v %q", running.State(), Explain(running))
	}
	for _, c := range []struct {
		status Status
		state  State
		want   string
	}{
		{Status{}, NotConfigured, ""},
		{Status{Configured: true, IORunning: "Connecting", SQLRunning: "Yes"}, Connecting, ""},
		{Status{Configured: true, IORunning: "No", SQLRunning: "No"}, Stopped, ""},
		{Status{Configured: true, IORunning: "No", SQLRunning: "Yes", IOErrno: 1236, IOError: "Could not find GTID state requested by slave in any binlog files"}, Broken, "set ferry:migration.runId to a new run id"},
		{Status{Configured: true, IORunning: "Connecting", SQLRunning: "Yes", IOErrno: 1045, IOError: "Access denied"}, Broken, "sourceReplicationPassword"},
		{Status{Configured: true, IORunning: "Connecting", SQLRunning: "Yes", IOErrno: 2003, IOError: "Can't connect"}, Broken, "cannot reach the source"},
		{Status{Configured: true, IORunning: "Yes", SQLRunning: "No", SQLErrno: 1062, SQLError: "Duplicate entry '5' for key 'PRIMARY'"}, Broken, "something other than the replication wrote to the destination"},
		{Status{Configured: true, IORunning: "Yes", SQLRunning: "No", SQLErrno: 1032, SQLError: "Can't find record"}, Broken, "Nothing is cut over"},
		{Status{Configured: true, IORunning: "Yes", SQLRunning: "No", SQLErrno: 9999, SQLError: "odd"}, Broken, "error 9999: odd"},
	} {
		if c.status.State() != c.state {
			t.Errorf("%+v: state %v, want %v", c.status, c.status.State(), c.state)
		}
		if got := Explain(c.status); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.status, got, c.want)
		}
	}
}
