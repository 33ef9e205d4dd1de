package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"ferry.local/dataplane/internal/sqlident"
	"ferry.local/dataplane/internal/sqlscript"
)

// AmbiguousMembers names the ENUM and SET columns whose members read alike under the column's
// collation. A server in a non-strict SQL mode accepts them (a character the column's character
// set cannot hold becomes '?', letter case and trailing spaces do not count), and a value is
// stored as its member's number: the dump writes a later member by its text, which the import
// reads back as the first member that reads alike, so the row arrives changed.
func AmbiguousMembers(ctx context.Context, db *sql.DB, databases []string) ([]string, error) {
	if len(databases) == 0 {
		return nil, nil
	}
	in, args := sqlident.InList(databases)
	rows, err := db.QueryContext(ctx, `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE,
		  c.CHARACTER_SET_NAME, c.COLLATION_NAME
		FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
		  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE c.DATA_TYPE IN ('enum', 'set') AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
		  AND c.TABLE_SCHEMA IN `+in+` ORDER BY 1, 2, c.ORDINAL_POSITION`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the ENUM and SET columns: %w", err)
	}
	type memberColumn struct{ database, table, column, dataType, columnType, charset, collation string }
	var columns []memberColumn
	for rows.Next() {
		var c memberColumn
		if err := rows.Scan(&c.database, &c.table, &c.column, &c.dataType, &c.columnType, &c.charset, &c.collation); err != nil {
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
		place := fmt.Sprintf("table %s column %s", sqlident.Qualified(c.database, c.table), sqlident.Quote(c.column))
		members, err := Members(c.columnType)
		if err != nil {
			return nil, fmt.Errorf("reading the members of %s (%s): %w", place, c.columnType, err)
		}
		distinct, err := distinctUnder(ctx, db, members, c.charset, c.collation)
		if err != nil {
			return nil, fmt.Errorf("comparing the members of %s: %w", place, err)
		}
		if distinct < len(members) {
			problems = append(problems, fmt.Sprintf(
				"%s: its %s's %d members are only %d distinct values under %s (characters %s cannot hold became '?', or members differ only in letter case or trailing spaces), so a value of a later one would arrive as the earlier one; give the members distinct values on the source (ALTER TABLE ... MODIFY, keeping their order, in a character set that holds them, such as utf8mb4), or leave its database out of ferry:source.databases",
				place, strings.ToUpper(c.dataType), len(members), distinct, c.collation, c.charset))
		}
	}
	return problems, nil
}

// Members are an ENUM's or SET's members as information_schema's COLUMN_TYPE writes them
// (enum('a','it”s')): each a quoted string, which the server writes with ” for a quote and a
// backslash before a backslash, NUL, newline and carriage return.
func Members(columnType string) ([]string, error) {
	text := []byte(columnType)
	tokens, err := sqlscript.Lex(text, false)
	if err != nil {
		return nil, err
	}
	tokens = sqlscript.Significant(tokens)
	if len(tokens) < 3 || tokens[0].Kind != sqlscript.Word || !sqlscript.IsPunct(text, tokens[1], '(') ||
		!sqlscript.IsPunct(text, tokens[len(tokens)-1], ')') {
		return nil, fmt.Errorf("not a member list")
	}
	var members []string
	for i, t := range tokens[2 : len(tokens)-1] {
		switch {
		case i%2 == 1 && sqlscript.IsPunct(text, t, ','):
		case i%2 == 0 && t.Kind == sqlscript.String && text[t.Start] == '\'':
			member, err := unescapeMember(text[t.Start+1 : t.End-1])
			if err != nil {
				return nil, err
			}
			members = append(members, member)
		default:
			return nil, fmt.Errorf("unexpected %q in a member list", text[t.Start:t.End])
		}
	}
	if len(members) == 0 || len(tokens)%2 != 0 {
		return nil, fmt.Errorf("not a member list")
	}
	return members, nil
}

// unescapeMember undoes what the server writes into a member (sql_string.cc append_unescaped);
// any other backslash sequence is not the server's and is refused rather than guessed.
func unescapeMember(quoted []byte) (string, error) {
	var b strings.Builder
	for i := 0; i < len(quoted); i++ {
		c := quoted[i]
		switch {
		case c == '\'' && i+1 < len(quoted) && quoted[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\\' && i+1 < len(quoted):
			i++
			switch quoted[i] {
			case '0':
				b.WriteByte(0)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case '\\', '\'':
				b.WriteByte(quoted[i])
			default:
				return "", fmt.Errorf("an escape the server does not write: \\%c", quoted[i])
			}
		case c == '\\' || c == '\'':
			return "", fmt.Errorf("a lone %c in a member", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// distinctUnder counts the members that differ under the column's collation, as the server
// compares them. The members are parameters; the character set and collation are the catalog's
// names, quoted.
func distinctUnder(ctx context.Context, db *sql.DB, members []string, charset, collation string) (int, error) {
	as := "CONVERT(? USING " + sqlident.Quote(charset) + ") COLLATE " + sqlident.Quote(collation)
	selects := make([]string, len(members))
	args := make([]any, len(members))
	for i, member := range members {
		selects[i] = "SELECT " + as + " AS member"
		args[i] = member
	}
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT member) FROM ("+strings.Join(selects, " UNION ALL ")+") members", args...).Scan(&n)
	return n, err
}
