// Package preflight refuses, before anything is written, what the dump could not carry exactly:
// each problem names the object and the fix.
package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(databases)), ",") + ")"
	args := make([]any, len(databases))
	for i, name := range databases {
		args[i] = name
	}
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
