// Package preflight refuses, before anything is written, what the dump could not carry exactly:
// each problem names the object and the fix.
package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/sqlident"
)

// InexactFloats lists the FLOAT columns holding a value that the dump tool's text does not carry:
// it writes a FLOAT with 6 significant digits (16777216 as 16777200), so such a value would arrive
// changed. Each is read as the dump would write it, read back as a FLOAT, as the import will, and
// compared with the stored value (3.14159 survives; 3.1415927 does not).
func InexactFloats(ctx context.Context, db *sql.DB, databases []string) ([]string, error) {
	if len(databases) == 0 {
		return nil, nil
	}
	in, args := sqlident.InList(databases)
	rows, err := db.QueryContext(ctx, `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, t.TABLE_TYPE
		FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
		  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE c.DATA_TYPE = 'float' AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
		  AND c.TABLE_SCHEMA IN `+in+` ORDER BY 1, 2, 3`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the FLOAT columns: %w", err)
	}
	type floatColumn struct{ database, table, column, tableType string }
	var columns []floatColumn
	for rows.Next() {
		var c floatColumn
		if err := rows.Scan(&c.database, &c.table, &c.column, &c.tableType); err != nil {
			rows.Close()
			return nil, err
		}
		columns = append(columns, c)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	var problems []string
	for _, c := range columns {
		from := sqlident.Qualified(c.database, c.table)
		if c.tableType == "SYSTEM VERSIONED" {
			from += " FOR SYSTEM_TIME ALL"
		}
		value := sqlident.Quote(c.column)
		var inexact int64
		query := "SELECT COUNT(*) FROM " + from + " WHERE " + value + " IS NOT NULL AND " +
			"CAST(CAST(" + value + " AS CHAR) AS FLOAT) <> " + value
		if err := db.QueryRowContext(ctx, query).Scan(&inexact); err != nil {
			return nil, fmt.Errorf("checking the FLOAT column %s of %s: %w", value, from, err)
		}
		if inexact > 0 {
			problems = append(problems, fmt.Sprintf(
				"table %s column %s: %d FLOAT values have more significant digits than the dump tool writes (6: 16777216 would arrive as 16777200); change the column to DOUBLE on the source, or leave its database out of ferry:source.databases",
				sqlident.Qualified(c.database, c.table), value, inexact))
		}
	}
	return problems, nil
}

// Destination is what the import will meet, as far as the configuration tells.
type Destination struct {
	// Flavour is "mariadb" or "mysql"; "" when unknown (a server ferry does not run).
	Flavour      string
	Major, Minor int
	// StorageBytes is the data volume's size; 0 when ferry does not size it.
	StorageBytes int64
}

// ParseDestination reads DEST_FLAVOUR ("mariadb 10.11", "mysql 8.4", or empty) and the volume size.
func ParseDestination(flavour string, storageBytes int64) Destination {
	d := Destination{StorageBytes: storageBytes}
	name, version, _ := strings.Cut(strings.TrimSpace(flavour), " ")
	if name == "mariadb" || name == "mysql" {
		d.Flavour = name
		_, _ = fmt.Sscanf(version, "%d.%d", &d.Major, &d.Minor)
	}
	return d
}

// UnknownCollation says whether the destination cannot create a column of a collation the
// source uses: MySQL 8's utf8mb4_0900_* before MariaDB 11.4 (which maps them), MariaDB 11's
// utf8mb4_uca1400_* on MySQL.
func UnknownCollation(sourceIsMariaDB bool, d Destination, collation string) bool {
	switch {
	case d.Flavour == "mariadb" && !sourceIsMariaDB:
		return strings.Contains(collation, "_0900_") && (d.Major < 11 || (d.Major == 11 && d.Minor < 4))
	case d.Flavour == "mysql" && sourceIsMariaDB:
		return strings.Contains(collation, "_uca1400_")
	}
	return false
}

// Report is what the preflight found: problems refuse the run, warnings are said.
type Report struct {
	Problems []string
	Warnings []string
}

// dumpPrivileges are what the dump needs on each database; globalPrivileges on the server (the
// consistent snapshot's global read lock, the dump tool's tablespace query).
var (
	// EXECUTE: the dump reads a view over a stored function through the function.
	dumpPrivileges   = []string{"SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "LOCK TABLES", "EXECUTE"}
	globalPrivileges = []string{"RELOAD", "PROCESS"}
)

// Source checks, before anything is written or installed, what would make the run fail later or
// arrive changed: the source user's privileges, collations the destination cannot take, the size
// against the volume, values the dump cannot carry; and says which definers the objects keep.
func Source(ctx context.Context, db *sql.DB, databases []string, d Destination, stripDefiners bool) (Report, error) {
	var r Report
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return r, err
	}
	sourceIsMariaDB := strings.Contains(strings.ToLower(version), "mariadb")
	in, args := sqlident.InList(databases)

	if err := checkPrivileges(ctx, db, databases, &r); err != nil {
		return r, err
	}

	// Collations of databases, tables and columns, each place named once.
	rows, err := db.QueryContext(ctx, `
		SELECT CONCAT('database ', SCHEMA_NAME), DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN `+in+`
		UNION ALL SELECT CONCAT('table ', TABLE_SCHEMA, '.', TABLE_NAME), TABLE_COLLATION FROM information_schema.TABLES
		  WHERE TABLE_SCHEMA IN `+in+` AND TABLE_COLLATION IS NOT NULL
		UNION ALL SELECT CONCAT('column ', TABLE_SCHEMA, '.', TABLE_NAME, '.', COLUMN_NAME), COLLATION_NAME FROM information_schema.COLUMNS
		  WHERE TABLE_SCHEMA IN `+in+` AND COLLATION_NAME IS NOT NULL`, append(append(append([]any{}, args...), args...), args...)...)
	if err != nil {
		return r, fmt.Errorf("listing the collations: %w", err)
	}
	for rows.Next() {
		var place, collation string
		if err := rows.Scan(&place, &collation); err != nil {
			rows.Close()
			return r, err
		}
		if UnknownCollation(sourceIsMariaDB, d, collation) {
			r.Problems = append(r.Problems, fmt.Sprintf("%s uses the collation %s, which %s %d.%d does not have: convert it on the source (for example to utf8mb4_unicode_520_ci), or choose a destination image that has it (ferry:destination.mysqlImage)",
				place, collation, d.Flavour, d.Major, d.Minor))
		}
	}
	if err := rows.Close(); err != nil {
		return r, err
	}

	// The size the data takes on the source, against the volume it goes to.
	var size sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN "+in, args...).Scan(&size); err != nil {
		return r, err
	}
	if d.StorageBytes > 0 && size.Int64 > d.StorageBytes*9/10 {
		r.Problems = append(r.Problems, fmt.Sprintf("the databases take about %.1f GiB on the source (data and indexes), more than 90%% of the destination's volume (%.1f GiB): set ferry:destination.storageSize to at least %dGi",
			float64(size.Int64)/(1<<30), float64(d.StorageBytes)/(1<<30), size.Int64*3/2/(1<<30)+1))
	}

	if !stripDefiners {
		definers, err := definers(ctx, db, in, args)
		if err != nil {
			return r, err
		}
		if len(definers) > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("views, routines, triggers or events keep their definers %s: those accounts must exist on the destination for them to run, and the importing user needs SET USER to create them; or set ferry:migration.stripDefiners to true",
				strings.Join(definers, ", ")))
		}
	}

	uncarried, err := uncarriable(ctx, db, in, args)
	if err != nil {
		return r, err
	}
	r.Problems = append(r.Problems, uncarried...)

	floats, err := InexactFloats(ctx, db, databases)
	if err != nil {
		return r, err
	}
	r.Problems = append(r.Problems, floats...)

	ambiguous, err := AmbiguousMembers(ctx, db, databases)
	if err != nil {
		return r, err
	}
	r.Problems = append(r.Problems, ambiguous...)
	return r, nil
}

// checkPrivileges refuses a source user without what the dump needs, naming the GRANT. Privileges
// that come through a role are not listed by information_schema: with a role active the check
// is said to be skipped rather than refuse a user who has them.
func checkPrivileges(ctx context.Context, db *sql.DB, databases []string, r *Report) error {
	if role, err := conn.ActiveRole(ctx, db); err == nil && role != "" {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the source user's privileges come with the role %s; they are not checked before the dump", role))
		return nil
	}
	const grantee = conn.CurrentGrantee
	held := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SELECT '*', PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = "+grantee+
		" UNION ALL SELECT TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = "+grantee)
	if err != nil {
		return fmt.Errorf("reading the source user's privileges: %w", err)
	}
	for rows.Next() {
		var scope, privilege string
		if err := rows.Scan(&scope, &privilege); err != nil {
			rows.Close()
			return err
		}
		held[scope+"\x00"+privilege] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var missing []string
	for _, p := range globalPrivileges {
		if !held["*\x00"+p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("the source user lacks %s, which the consistent snapshot needs: GRANT %s ON *.* TO the user in ferry:source.user",
			strings.Join(missing, ", "), strings.Join(missing, ", ")))
	}
	for _, database := range databases {
		missing = nil
		for _, p := range dumpPrivileges {
			if !held["*\x00"+p] && !held[database+"\x00"+p] {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("the source user lacks %s on database %s: GRANT %s ON %s.* TO the user in ferry:source.user",
				strings.Join(missing, ", "), sqlident.Quote(database), strings.Join(missing, ", "), sqlident.Quote(database)))
		}
	}
	return nil
}

// definers lists, once each, the accounts the databases' views, routines, triggers and events run as.
func definers(ctx context.Context, db *sql.DB, in string, args []any) ([]string, error) {
	all := append(append(append(append([]any{}, args...), args...), args...), args...)
	rows, err := db.QueryContext(ctx, `SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN `+in+`
		UNION SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN `+in+`
		UNION SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN `+in+`
		UNION SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN `+in+` ORDER BY 1`, all...)
	if err != nil {
		return nil, fmt.Errorf("listing the definers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var definer string
		if err := rows.Scan(&definer); err != nil {
			return nil, err
		}
		out = append(out, definer)
	}
	return out, rows.Err()
}

// uncarriable names the objects the dump tool or the verification cannot carry, each with its
// fix: found now, not under the dump's global lock, and not after other databases were dumped.
// Packages (sql_mode ORACLE) are neither dumped by the dump tool nor known to the digests; a
// system-versioned table whose history is kept by transaction id makes --dump-history fail.
func uncarriable(ctx context.Context, db *sql.DB, in string, args []any) ([]string, error) {
	var problems []string
	rows, err := db.QueryContext(ctx, `SELECT ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME, SQL_MODE FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA IN `+in+` AND ROUTINE_TYPE NOT IN ('PROCEDURE', 'FUNCTION') ORDER BY ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the routines: %w", err)
	}
	for rows.Next() {
		var kind, schema, name, mode string
		if err := rows.Scan(&kind, &schema, &name, &mode); err != nil {
			rows.Close()
			return nil, err
		}
		why := ""
		if strings.Contains(mode, "ORACLE") {
			why = " (sql_mode ORACLE)"
		}
		problems = append(problems, fmt.Sprintf("%s %s%s is an object ferry cannot dump and verify: drop it, or leave database %s out of ferry:source.databases",
			strings.ToLower(kind), sqlident.Qualified(schema, name), why, sqlident.Quote(schema)))
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA IN `+in+` AND GENERATION_EXPRESSION = 'ROW START' AND DATA_TYPE = 'bigint' ORDER BY TABLE_SCHEMA, TABLE_NAME`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the system-versioned tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			return nil, err
		}
		problems = append(problems, fmt.Sprintf("table %s keeps its history by transaction id (BIGINT UNSIGNED period columns), which the dump tool cannot carry (--dump-history fails on it): remove its system versioning (ALTER TABLE ... DROP SYSTEM VERSIONING), or leave database %s out of ferry:source.databases",
			sqlident.Qualified(schema, name), sqlident.Quote(schema)))
	}
	return problems, rows.Err()
}

// Live is what live mode asks of the source beyond the dump's needs.
type Live struct {
	// DestinationServerID is the server id of the server that will replicate from the source.
	DestinationServerID int64
	// CopySeconds is how long the dump, import and verification may take (their timeouts): the
	// source must keep its binary log from the snapshot's position at least that long.
	CopySeconds int64
	// ClosesSessions: the cutover closes the applications' sessions still open on the source
	// (the applications' Service moved to the destination), as the source user.
	ClosesSessions bool
}

// sessionClosers are the privileges with which an account may close another's session: MariaDB
// 10.5.2 and later CONNECTION ADMIN, MySQL 8 CONNECTION_ADMIN, both SUPER before that.
var sessionClosers = []string{"CONNECTION ADMIN", "CONNECTION_ADMIN", "SUPER"}

// LiveSource checks, before the dump, what would keep the destination from replicating the
// source from the dump's position: the binary log on, in ROW format (the replica's table filter
// and the row changes it applies), a server id the replica can tell from its own, binary logs
// kept longer than the copy may take. Each problem names the setting and the fix.
func LiveSource(ctx context.Context, db *sql.DB, l Live) ([]string, error) {
	var problems []string
	var logBin, serverID int64
	var format string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.server_id").Scan(&logBin, &format, &serverID); err != nil {
		return nil, err
	}
	if logBin == 0 {
		problems = append(problems, "the source's binary log is off (log_bin): live mode replicates from it; start the source with --log-bin (and a server id), or use ferry:migration.mode snapshot")
	}
	if !strings.EqualFold(format, "ROW") {
		problems = append(problems, fmt.Sprintf("the source's binlog_format is %s: live mode needs ROW (the replica applies row changes, filtered by table); SET GLOBAL binlog_format = 'ROW' on the source and in its configuration, before the dump", format))
	}
	switch {
	case serverID == 0:
		problems = append(problems, "the source's server_id is 0, with which it serves no replica: give it a server id (server_id in its configuration)")
	case serverID == l.DestinationServerID:
		problems = append(problems, fmt.Sprintf("the source's server_id is %d, the destination's too: a replica skips the changes of its own id; give the source another server_id", serverID))
	}
	kept, err := binlogRetentionSeconds(ctx, db)
	if err != nil {
		return nil, err
	}
	if kept > 0 && kept < l.CopySeconds {
		problems = append(problems, fmt.Sprintf("the source keeps its binary logs %d s, less than the copy may take (%d s: the dump, import and verification timeouts of ferry:migration): the log from the dump's position could be purged before the destination replicates it; SET GLOBAL binlog_expire_logs_seconds = %d (or more) on the source, or lower the timeouts", kept, l.CopySeconds, l.CopySeconds*2))
	}
	if l.ClosesSessions {
		may, err := mayCloseSessions(ctx, db)
		if err != nil {
			return nil, err
		}
		if !may {
			problems = append(problems, "the source user may not close other accounts' sessions, which the cutover does once ferry:migration.live.applicationService selects the destination (an application's pooled connection would otherwise go on reading the source as it was at the cutover, its writes refused): GRANT CONNECTION ADMIN ON *.* (SUPER before MariaDB 10.5.2; CONNECTION_ADMIN on MySQL) TO the user in ferry:source.user")
		}
	}
	return problems, nil
}

// mayCloseSessions says whether the session's account holds a privilege that closes other
// accounts' sessions (sessionClosers). With a role active its privileges are not listed: it is
// then not refused here (the cutover still warns, naming the privilege, if it cannot).
func mayCloseSessions(ctx context.Context, db *sql.DB) (bool, error) {
	if role, err := conn.ActiveRole(ctx, db); err == nil && role != "" {
		return true, nil
	}
	var held int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = "+conn.CurrentGrantee+
		" AND PRIVILEGE_TYPE IN (?, ?, ?)", sessionClosers[0], sessionClosers[1], sessionClosers[2]).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("reading whether the source user may close sessions: %w", err)
	}
	return held > 0, nil
}

// binlogRetentionSeconds is how long the server keeps a binary log, 0 for ever: its
// binlog_expire_logs_seconds (MySQL 8, MariaDB 10.6 and later), else expire_logs_days.
func binlogRetentionSeconds(ctx context.Context, db *sql.DB) (int64, error) {
	var seconds sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.binlog_expire_logs_seconds").Scan(&seconds)
	if err == nil && seconds.Valid {
		return seconds.Int64, nil
	}
	var days sql.NullFloat64
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.expire_logs_days").Scan(&days); err != nil {
		return 0, err
	}
	return int64(days.Float64 * 86400), nil
}
