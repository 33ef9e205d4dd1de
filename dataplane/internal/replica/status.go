package replica

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"ferry.local/dataplane/internal/conn"
)

// State is what the replication is doing, in one word.
type State string

const (
	// NotConfigured: the destination replicates from nowhere.
	NotConfigured State = "not configured"
	// Connecting: the replica is (re)connecting to the source.
	Connecting State = "connecting"
	// Replicating: both threads run.
	Replicating State = "replicating"
	// Stopped: stopped without an error (by someone, or before a cutover).
	Stopped State = "stopped"
	// Broken: a thread stopped on an error, which Explain says what to do about.
	Broken State = "broken"
)

// Status is the replica's state as SHOW SLAVE STATUS / SHOW REPLICA STATUS gives it.
type Status struct {
	SourceHost string
	SourcePort string
	// IORunning is Yes, No or Connecting; SQLRunning Yes or No.
	IORunning  string
	SQLRunning string
	// SecondsBehind is the replica's own estimate; unknown while a thread is stopped.
	SecondsBehind sql.NullInt64
	IOErrno       int
	IOError       string
	SQLErrno      int
	SQLError      string
	// Applied is the replica's executed position: MariaDB's Gtid_Slave_Pos, MySQL's
	// Executed_Gtid_Set, or file:position without GTIDs.
	Applied string
	// Configured is false when the server replicates from nowhere.
	Configured bool
}

// State reads the status in one word.
func (s Status) State() State {
	switch {
	case !s.Configured:
		return NotConfigured
	case s.IOErrno != 0 || s.SQLErrno != 0:
		return Broken
	case s.IORunning == "Yes" && s.SQLRunning == "Yes":
		return Replicating
	case s.IORunning == "Connecting":
		return Connecting
	default:
		return Stopped
	}
}

// statusQuery reads the replica's status on flavor's servers.
func statusQuery(flavor conn.Flavor) string {
	if flavor == conn.MySQL {
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

// columnsOf is the names each flavor gives the fields Status holds (MySQL 8.0.22+ and MariaDB).
var columnsOf = map[conn.Flavor]map[string]string{
	conn.MariaDB: {
		"host": "Master_Host", "port": "Master_Port", "io": "Slave_IO_Running", "sql": "Slave_SQL_Running",
		"behind": "Seconds_Behind_Master", "ioErrno": "Last_IO_Errno", "ioError": "Last_IO_Error",
		// Its applied GTID position is not a column of SHOW SLAVE STATUS: @@gtid_slave_pos.
		"sqlErrno": "Last_SQL_Errno", "sqlError": "Last_SQL_Error",
		"file": "Relay_Master_Log_File", "offset": "Exec_Master_Log_Pos",
	},
	conn.MySQL: {
		"host": "Source_Host", "port": "Source_Port", "io": "Replica_IO_Running", "sql": "Replica_SQL_Running",
		"behind": "Seconds_Behind_Source", "ioErrno": "Last_IO_Errno", "ioError": "Last_IO_Error",
		"sqlErrno": "Last_SQL_Errno", "sqlError": "Last_SQL_Error", "applied": "Executed_Gtid_Set",
		"file": "Relay_Source_Log_File", "offset": "Exec_Source_Log_Pos",
	},
}

// Read reads the replica's status.
func Read(ctx context.Context, db *sql.DB, flavor conn.Flavor) (Status, error) {
	names, ok := columnsOf[flavor]
	if !ok {
		return Status{}, fmt.Errorf("unknown server flavor %q", flavor)
	}
	rows, err := db.QueryContext(ctx, statusQuery(flavor))
	if err != nil {
		return Status{}, err
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		return Status{}, err
	}
	if !rows.Next() {
		return Status{}, rows.Err()
	}
	values := make([]sql.NullString, len(columns))
	pointers := make([]any, len(columns))
	for i := range values {
		pointers[i] = &values[i]
	}
	if err := rows.Scan(pointers...); err != nil {
		return Status{}, err
	}
	field := map[string]sql.NullString{}
	for i, name := range columns {
		field[name] = values[i]
	}
	get := func(key string) string { return field[names[key]].String }
	number := func(key string) int { n, _ := strconv.Atoi(get(key)); return n }
	s := Status{
		Configured: get("host") != "",
		SourceHost: get("host"), SourcePort: get("port"),
		IORunning: get("io"), SQLRunning: get("sql"),
		IOErrno: number("ioErrno"), IOError: get("ioError"),
		SQLErrno: number("sqlErrno"), SQLError: get("sqlError"),
		Applied: get("applied"),
	}
	if behind := field[names["behind"]]; behind.Valid {
		if n, err := strconv.ParseInt(behind.String, 10, 64); err == nil {
			s.SecondsBehind = sql.NullInt64{Int64: n, Valid: true}
		}
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	if flavor == conn.MariaDB {
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_slave_pos").Scan(&s.Applied); err != nil {
			return s, err
		}
	}
	if s.Applied == "" && get("file") != "" {
		s.Applied = get("file") + ":" + get("offset")
	}
	return s, nil
}

// Explain says why a broken replication broke and what to do, from the error numbers MySQL and
// MariaDB share; "" when it is not broken.
func Explain(s Status) string {
	if s.State() != Broken {
		return ""
	}
	if s.IOErrno != 0 {
		what := fmt.Sprintf("the replica cannot read the source's binary log (error %d: %s)", s.IOErrno, s.IOError)
		switch s.IOErrno {
		case 1236:
			return what + ": the source no longer holds the binary log from the dump's position on (purged, or the source was reset). The catch-up cannot resume: set ferry:migration.runId to a new run id for a new dump, and keep the source's binary logs longer than the copy takes (binlog_expire_logs_seconds / expire_logs_days)"
		case 1045, 1227, 1044:
			return what + ": the source refuses the replication account; check ferry:migration.live.replicationUser, the secret sourceReplicationPassword, and that the account has REPLICATION SLAVE (MariaDB: REPLICATION SLAVE, BINLOG MONITOR) on the source"
		case 2026:
			return what + ": TLS to the source failed; check the source's certificate against ferry:source.tls.caCert and the name the destination dials (ferry:migration.live.sourceHost)"
		case 2003, 2005, 2013:
			return what + ": the destination cannot reach the source; check ferry:migration.live.sourceHost and port, the network between the clusters, and that the source runs. The replica keeps retrying"
		}
		return what
	}
	what := fmt.Sprintf("the replica stopped applying the source's changes (error %d: %s)", s.SQLErrno, s.SQLError)
	switch s.SQLErrno {
	case 1062, 1032, 1451, 1452, 1022, 1050, 1051, 1146:
		return what + ": the destination's data no longer matches the source's where the change applies; something other than the replication wrote to the destination (it is read-only, but an account with SUPER or READ_ONLY ADMIN can still write), or the source ran a change outside the migrated databases' own default database. Nothing is cut over: set ferry:migration.runId to a new run id to copy again"
	}
	return what
}
