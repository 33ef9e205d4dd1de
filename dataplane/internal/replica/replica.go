// Package replica makes the destination server a replica of the source from the dump's snapshot
// (live mode): it replicates, over verified TLS, exactly the events the source logged after the
// position the manifest recorded under the snapshot's global read lock, for the dumped databases
// only, while the destination is read-only to applications. It reads the replication's state and
// explains a broken one, waits for the destination to reach a source position, and ends the
// replication at cutover.
//
// MariaDB replicates by GTID (gtid_slave_pos). MySQL by GTID auto-position when the source logs
// GTIDs, else by binary log file and position. CHANGE MASTER TO takes no placeholders: its values,
// and the databases' names in the replication filter, reach the server as literals escaped by the
// MySQL driver (conn.OpenInterpolating); no statement's text is built from a value or a name.
package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/sqlident"
)

// Source is the source server as the destination server reaches it.
type Source struct {
	Host     string
	Port     int
	User     string
	Password string
	// CAFile is the source's CA certificate as a path on the destination server's own filesystem:
	// the server reads it, not ferry.
	CAFile string
	// VerifyIdentity checks that the source's certificate names Host (else the chain only).
	VerifyIdentity bool
}

// Position is where replication starts: the source's position under the dump's snapshot, as the
// manifest records it.
type Position struct {
	// GTID is MariaDB's gtid_binlog_pos or MySQL's gtid_executed; "" when the source logs none.
	GTID string
	// File and Offset are the binary log coordinates (MySQL without GTIDs).
	File   string
	Offset string
}

// Statement is one statement to run on the destination, its arguments inlined by the driver.
type Statement struct {
	SQL  string
	Args []any
}

// tablePatterns is the replication filter that takes every table of databases and nothing else
// (replicate_wild_do_table: db.%, the database's own % and _ escaped). A table filter, not a
// database one (replicate_do_db): a statement logged as text (CREATE TABLE, ALTER TABLE) is
// matched by the tables it names, not by the session's default database, so a change made with
// another or no default database is still replicated.
func tablePatterns(databases []string) []string {
	escape := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	patterns := make([]string, len(databases))
	for i, name := range databases {
		patterns[i] = escape.Replace(name) + ".%"
	}
	return patterns
}

// connectRetrySeconds is how long the replica waits between attempts to reach the source.
const connectRetrySeconds = 10

// Plan is what makes the destination (of flavor) replicate databases from source starting at
// from, read-only to everyone without the right to write past that. Names that a filter list
// cannot hold are refused: MariaDB's replicate_wild_do_table is a comma-separated list.
func Plan(flavor conn.Flavor, source Source, from Position, databases []string) ([]Statement, error) {
	if len(databases) == 0 {
		return nil, errors.New("no database to replicate")
	}
	if source.Host == "" || source.User == "" || source.Port <= 0 || source.Port > 65535 {
		return nil, fmt.Errorf("the source's replication address and user are incomplete (%q:%d as %q)", source.Host, source.Port, source.User)
	}
	if source.CAFile == "" {
		return nil, errors.New("replication needs the source's CA certificate: it runs over verified TLS only")
	}
	verify := 0
	if source.VerifyIdentity {
		verify = 1
	}
	switch flavor {
	case conn.MariaDB:
		for _, name := range databases {
			if strings.Contains(name, ",") {
				return nil, fmt.Errorf("database %s holds a comma, which MariaDB's replication filter (replicate_wild_do_table, a comma-separated list) cannot name: migrate it in snapshot mode, or rename it", sqlident.Quote(name))
			}
		}
		return []Statement{
			{SQL: "STOP SLAVE"},
			{SQL: "SET GLOBAL gtid_slave_pos = ?", Args: []any{from.GTID}},
			{SQL: "SET GLOBAL replicate_wild_do_table = ?", Args: []any{strings.Join(tablePatterns(databases), ",")}},
			{SQL: "CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, " +
				"MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = ?, " +
				"MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = ?",
				Args: []any{source.Host, source.Port, source.User, source.Password, source.CAFile, verify, connectRetrySeconds}},
			{SQL: "SET GLOBAL read_only = ON"},
			{SQL: "START SLAVE"},
		}, nil
	case conn.MySQL:
		patterns := tablePatterns(databases)
		placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(patterns)), ", ")
		filterArgs := make([]any, len(patterns))
		for i, pattern := range patterns {
			filterArgs[i] = pattern
		}
		change := "CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, " +
			"SOURCE_SSL = 1, SOURCE_SSL_CA = ?, SOURCE_SSL_VERIFY_SERVER_CERT = ?, SOURCE_CONNECT_RETRY = ?, "
		args := []any{source.Host, source.Port, source.User, source.Password, source.CAFile, verify, connectRetrySeconds}
		statements := []Statement{{SQL: "STOP REPLICA"}}
		switch {
		case from.GTID != "":
			// The snapshot's transactions are in the destination's data already: it records them as
			// done, beside its own (the import's, under its own server UUID).
			statements = append(statements, Statement{SQL: "SET GLOBAL gtid_purged = ?", Args: []any{"+" + from.GTID}})
			change += "SOURCE_AUTO_POSITION = 1"
		case from.File != "" && from.Offset != "":
			// A number in the grammar: inlined as one, not as a string.
			offset, err := strconv.ParseUint(from.Offset, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("the manifest's binary log position %q is not a number", from.Offset)
			}
			change += "SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?"
			args = append(args, from.File, offset)
		default:
			return nil, errors.New("the manifest records no binary log position: the source's binary log was off during the dump, so nothing can be replicated from it")
		}
		return append(statements,
			Statement{SQL: "CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = (" + placeholders + ")", Args: filterArgs},
			Statement{SQL: change, Args: args},
			Statement{SQL: "SET GLOBAL super_read_only = ON"},
			Statement{SQL: "START REPLICA"},
		), nil
	default:
		return nil, fmt.Errorf("unknown server flavor %q", flavor)
	}
}

// Start makes the destination (db, opened with conn.OpenInterpolating) replicate as Plan says,
// once. A destination that already replicates from this source (a Job that ran again, a server
// restarted) is never sent back to the snapshot's position, which would apply changes twice: it
// is made read-only again and its replication started if it was stopped without an error. One
// that replicates from another server is refused. Says which it did.
func Start(ctx context.Context, db *sql.DB, flavor conn.Flavor, source Source, from Position, databases []string) (string, error) {
	plan, err := Plan(flavor, source, from, databases)
	if err != nil {
		return "", err
	}
	status, err := Read(ctx, db, flavor)
	if err != nil {
		return "", fmt.Errorf("reading the destination's replication status: %w", err)
	}
	if status.Configured {
		if status.SourceHost != source.Host || status.SourcePort != strconv.Itoa(source.Port) {
			return "", fmt.Errorf("the destination already replicates from %s:%s, not from the source (%s:%d); ferry does not change another replication", status.SourceHost, status.SourcePort, source.Host, source.Port)
		}
		resume := plan[len(plan)-2:] // read-only, then start
		for _, statement := range resume {
			if _, err := db.ExecContext(ctx, statement.SQL, statement.Args...); err != nil {
				return "", fmt.Errorf("%s: %w", statement.SQL, err)
			}
		}
		return fmt.Sprintf("the destination already replicates from %s:%s (%s, applied %s); it goes on from there", status.SourceHost, status.SourcePort, status.State(), status.Applied), nil
	}
	for _, statement := range plan {
		if _, err := db.ExecContext(ctx, statement.SQL, statement.Args...); err != nil {
			// The server may quote the statement it refused, with the password inlined in it.
			message := err.Error()
			if source.Password != "" {
				message = strings.ReplaceAll(message, source.Password, "<sourceReplicationPassword>")
			}
			return "", fmt.Errorf("%s: %s", strings.SplitN(statement.SQL, " = ?", 2)[0], message)
		}
	}
	return fmt.Sprintf("the destination replicates from %s:%d from the dump's position (%s)", source.Host, source.Port, describe(from)), nil
}

func describe(p Position) string {
	if p.GTID != "" {
		return "GTID " + p.GTID
	}
	if p.File != "" {
		return p.File + ":" + p.Offset
	}
	return "the beginning of the source's GTID history"
}
