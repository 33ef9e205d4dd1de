package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// possible is a source a physical copy can be made of, here, into a MariaDB 10.11 destination.
func possible() (Destination, PhysicalFacts) {
	return ParseDestination("mariadb 10.11", 0), PhysicalFacts{
		SourceVersion:  "10.11.19-MariaDB-log",
		ToolVersion:    "mariadb-backup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)",
		LogBin:         true,
		BinlogReadable: true,
		DataDir:        "/var/lib/mysql/",
	}
}

func TestDecideTakesPhysicalOnlyWhenNothingStandsInTheWay(t *testing.T) {
	d, f := possible()
	for _, requested := range []string{Physical, Auto} {
		decision, problems := Decide(requested, d, f)
		if decision.Method != Physical || len(problems) > 0 {
			t.Fatalf("%s: %+v %v", requested, decision, problems)
		}
		if !strings.Contains(decision.Reason, "MariaDB 10.11") || !strings.Contains(decision.Reason, "/var/lib/mysql/") {
			t.Fatalf("reason %q", decision.Reason)
		}
	}
	decision, problems := Decide(Logical, d, f)
	if decision.Method != Logical || len(problems) > 0 {
		t.Fatalf("logical: %+v %v", decision, problems)
	}
}

func TestDecideNamesEveryObstacle(t *testing.T) {
	cases := map[string]struct {
		change func(*Destination, *PhysicalFacts)
		says   string
	}{
		"another minor":       {func(d *Destination, _ *PhysicalFacts) { *d = ParseDestination("mariadb 11.4", 0) }, "the source is MariaDB 10.11 and the destination 11.4"},
		"a MySQL destination": {func(d *Destination, _ *PhysicalFacts) { *d = ParseDestination("mysql 8.4", 0) }, "names no MariaDB version"},
		"an unknown image":    {func(d *Destination, _ *PhysicalFacts) { *d = ParseDestination("", 0) }, "names no MariaDB version"},
		"a MySQL source": {func(_ *Destination, f *PhysicalFacts) {
			f.SourceVersion = "8.4.3"
		}, "the source is 8.4.3, not MariaDB"},
		"no binary log":     {func(_ *Destination, f *PhysicalFacts) { f.LogBin = false }, "binary log is off"},
		"no BINLOG MONITOR": {func(_ *Destination, f *PhysicalFacts) { f.BinlogReadable = false }, "GRANT BINLOG MONITOR"},
		"no tool":           {func(_ *Destination, f *PhysicalFacts) { f.ToolVersion = "" }, "mariadb-backup is not installed"},
		"a tool of 10.6": {func(_ *Destination, f *PhysicalFacts) {
			f.ToolVersion = "mariadb-backup based on MariaDB server 10.6.2-MariaDB"
		}, "is 10.6, the source 10.11"},
		"a tool of no version": {func(_ *Destination, f *PhysicalFacts) { f.ToolVersion = "something" }, "of an unknown version"},
		"an unreadable data directory": {func(_ *Destination, f *PhysicalFacts) {
			f.DataDirProblem = errors.New("permission denied")
		}, "data directory /var/lib/mysql/ cannot be read where the dump runs (permission denied): the dump must run where the files are, as a user who may read them: on the source's host (ferry:source.mode local or ssh), or for a server in a pod beside it with its claim (ferry:source.kubernetes.dataVolume"},
	}
	for name, c := range cases {
		d, f := possible()
		c.change(&d, &f)
		decision, problems := Decide(Auto, d, f)
		if decision.Method != Logical || len(problems) > 0 || !strings.HasPrefix(decision.Reason, "auto chose logical: ") || !strings.Contains(decision.Reason, c.says) {
			t.Errorf("%s, auto: %+v %v", name, decision, problems)
		}
		decision, problems = Decide(Physical, d, f)
		if decision.Method != "" || len(problems) != 1 || !strings.Contains(problems[0], c.says) || !strings.Contains(problems[0], "ferry:migration.method is physical") {
			t.Errorf("%s, physical: %+v %v", name, decision, problems)
		}
	}
}

func TestDecideListsObstaclesTogether(t *testing.T) {
	d, f := possible()
	f.LogBin = false
	f.ToolVersion = ""
	if _, problems := Decide(Physical, d, f); len(problems) != 2 {
		t.Fatalf("%v", problems)
	}
}

func TestReadableReadsAFileOfTheDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := readable(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Fatalf("absent: %v", err)
	}
	if err := readable(dir); err == nil || !strings.Contains(err.Error(), "holds no file") {
		t.Fatalf("empty: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ibdata1"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := readable(dir); err != nil {
		t.Fatalf("readable: %v", err)
	}
	if os.Geteuid() == 0 {
		return // root reads a file of any mode: the refusal below needs another user.
	}
	if err := os.Chmod(filepath.Join(dir, "ibdata1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := readable(dir); err == nil {
		t.Fatal("an unreadable file passed")
	}
}
