package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Setting is a global server variable the import raises while it runs.
type Setting struct {
	Name  string
	Value int64
}

// ImportSettings are raised (never lowered) for the import and put back once it ends, whether it
// succeeded or not. Each is safe to leave raised should the import be killed before it puts them
// back, until someone sets it or the server restarts (neither is persisted): they change how fast
// the server does its background work, never what it keeps or how durably.
//   - innodb_io_capacity(_max): the rate at which InnoDB writes dirty pages back. At the default
//     (200 pages a second) a bulk load outruns the page cleaner, the redo log fills, and every
//     session waits while pages are flushed in its stead.
//
// The order is the order of raising: the maximum before the value it bounds; they are put back in
// reverse.
var ImportSettings = []Setting{
	{Name: "innodb_io_capacity_max", Value: 20000},
	{Name: "innodb_io_capacity", Value: 10000},
}

// raise sets each setting below its value to it and returns what puts them back, in reverse order.
// A setting the server refuses (an account without the privilege, a server without the variable)
// is left as it is and said: the import goes on at the server's own settings.
func raise(ctx context.Context, db *sql.DB, settings []Setting, log func(string, ...any)) func(context.Context) {
	type was struct {
		name  string
		value int64
	}
	var raised []was
	var said []string
	for _, s := range settings {
		var current int64
		// The names are ferry's own (ImportSettings), never read from a dump or a server.
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+s.Name).Scan(&current); err != nil {
			log("left the server's %s as it is: %v", s.Name, err)
			continue
		}
		if current >= s.Value {
			continue
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET GLOBAL %s = %d", s.Name, s.Value)); err != nil {
			log("left the server's %s at %d: %v", s.Name, current, err)
			continue
		}
		raised = append(raised, was{s.Name, current})
		said = append(said, fmt.Sprintf("%s %d → %d", s.Name, current, s.Value))
	}
	if len(said) > 0 {
		log("raised for the import, put back after it: %s", strings.Join(said, ", "))
	}
	return func(ctx context.Context) {
		for i := len(raised) - 1; i >= 0; i-- {
			r := raised[i]
			if _, err := db.ExecContext(ctx, fmt.Sprintf("SET GLOBAL %s = %d", r.name, r.value)); err != nil {
				log("could not put the server's %s back to %d (it resets when the server restarts): %v", r.name, r.value, err)
			}
		}
	}
}
