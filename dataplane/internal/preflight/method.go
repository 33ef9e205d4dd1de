package preflight

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Methods of ferry:migration.method as the data plane receives them (METHOD).
const (
	Logical  = "logical"
	Physical = "physical"
	Auto     = "auto"
)

// Decision is the method the run takes and why: printed by the preflight for the graph, which
// passes it to the dump, the restore and the import.
type Decision struct {
	Method string `json:"method"`
	Reason string `json:"reason"`
}

// PhysicalFacts is what a physical copy needs, as found on the source server and on the host
// where the dump runs.
type PhysicalFacts struct {
	// SourceVersion is the server's VERSION(); ToolVersion the copy tool's own --version line
	// ("" when it is not installed here).
	SourceVersion, ToolVersion string
	LogBin                     bool
	// BinlogReadable: the source user may read the binary log's position (BINLOG MONITOR).
	BinlogReadable bool
	DataDir        string
	// DataDirProblem is why the data directory cannot be read here; nil when it can.
	DataDirProblem error
}

var mariadbVersion = regexp.MustCompile(`(\d+)\.(\d+)\.\d+-MariaDB`)

// majorMinor reads "10.11" from a MariaDB version text; "" for anything else.
func majorMinor(version string) string {
	m := mariadbVersion.FindStringSubmatch(version)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// Decide turns a requested method into the method taken. physical is refused with every obstacle
// and its fix; auto takes logical when anything stands in the way, saying what.
func Decide(requested string, d Destination, f PhysicalFacts) (Decision, []string) {
	if requested == Logical {
		return Decision{Method: Logical, Reason: "migration.method is logical"}, nil
	}
	var obstacles []string
	want := fmt.Sprintf("%d.%d", d.Major, d.Minor)
	source := majorMinor(f.SourceVersion)
	switch {
	case d.Flavour != "mariadb":
		obstacles = append(obstacles, "the destination's image names no MariaDB version (ferry:destination.mysqlImage)")
	case source == "":
		obstacles = append(obstacles, fmt.Sprintf("the source is %s, not MariaDB: its data files are not a MariaDB server's", f.SourceVersion))
	case source != want:
		obstacles = append(obstacles, fmt.Sprintf("the source is MariaDB %s and the destination %s: data files move only between servers of the same major.minor (or choose a destination image of %s, ferry:destination.mysqlImage)", source, want, source))
	}
	if !f.LogBin {
		obstacles = append(obstacles, "the source's binary log is off (log_bin): its position is what proves the verification's digests were taken at the copy's point; start the source with --log-bin")
	} else if !f.BinlogReadable {
		obstacles = append(obstacles, "the source user may not read the binary log's position: GRANT BINLOG MONITOR ON *.* (REPLICATION CLIENT before MariaDB 10.5) TO the user in ferry:source.user")
	}
	tool := majorMinor(f.ToolVersion)
	switch {
	case f.ToolVersion == "":
		obstacles = append(obstacles, "mariadb-backup is not installed where the dump runs: install the mariadb-backup package of the source's version there")
	case source != "" && tool != source:
		obstacles = append(obstacles, fmt.Sprintf("mariadb-backup where the dump runs is %s, the source %s: install the mariadb-backup package of the source's version there", orUnknown(tool), source))
	}
	if f.DataDirProblem != nil {
		obstacles = append(obstacles, fmt.Sprintf("the source's data directory %s cannot be read where the dump runs (%v): the dump must run where the files are, as a user who may read them: on the source's host (ferry:source.mode local or ssh), or for a server in a pod beside it with its claim (ferry:source.kubernetes.dataVolume: claim, subPath, mountPath the server's datadir, user the files' owner)", f.DataDir, f.DataDirProblem))
	}
	if len(obstacles) == 0 {
		return Decision{Method: Physical, Reason: fmt.Sprintf("the source is MariaDB %s like the destination, its binary log is on and its data directory %s is readable where the dump runs", source, f.DataDir)}, nil
	}
	if requested == Auto {
		return Decision{Method: Logical, Reason: "auto chose logical: " + strings.Join(obstacles, "; ")}, nil
	}
	problems := make([]string, len(obstacles))
	for i, o := range obstacles {
		problems[i] = o + " (ferry:migration.method is physical; logical or auto would copy the rows instead)"
	}
	return Decision{}, problems
}

func orUnknown(s string) string {
	if s == "" {
		return "of an unknown version"
	}
	return s
}

// ReadPhysicalFacts reads, from the source server and this host, what Decide needs.
func ReadPhysicalFacts(ctx context.Context, db *sql.DB, toolVersion string) (PhysicalFacts, error) {
	f := PhysicalFacts{ToolVersion: toolVersion}
	var logBin int64
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@GLOBAL.log_bin, @@GLOBAL.datadir").Scan(&f.SourceVersion, &logBin, &f.DataDir); err != nil {
		return f, err
	}
	f.LogBin = logBin == 1
	if f.LogBin {
		rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
		if err == nil {
			err = rows.Close()
		}
		f.BinlogReadable = err == nil
	}
	f.DataDirProblem = readable(f.DataDir)
	return f, nil
}

// readable says why the copy tool could not read the data directory here: it lists it and reads
// a file of it, as the tool will every file.
func readable(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("no such directory here")
		}
		return err
	}
	for _, entry := range entries {
		if entry.Type().IsRegular() {
			file, err := os.Open(filepath.Join(dir, entry.Name()))
			if err == nil {
				err = file.Close()
			}
			return err
		}
	}
	return errors.New("it holds no file here")
}
