package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry.local/dataplane/internal/conn"
)

// Cutover moves the writes from the source to its replica, the destination: the source made
// read-only (open write transactions given Drain to end), the destination given CatchUp to apply
// the source's last change, both sides' snapshots opened at that same point for a verification
// after, the replication stopped and the destination made writable. The write-unavailable window
// runs from the source's read-only to the destination's writable; the verification, which reads
// the snapshots, does not hold it open. Anything that fails before the destination is writable is
// rolled back: the source takes writes again as before, the destination goes on replicating.
type Cutover struct {
	// Source is a session pool on the source as an account that may set read_only (SUPER, or
	// READ_ONLY ADMIN on MariaDB 10.5.2 and later).
	Source       *sql.DB
	SourceFlavor conn.Flavor
	// Destination is a session pool on the destination as its root.
	Destination       *sql.DB
	DestinationFlavor conn.Flavor
	Drain             time.Duration
	CatchUp           time.Duration
	// Sessions is how many snapshot sessions each side opens for the verification.
	Sessions int
	Log      func(format string, args ...any)
}

// Switched is a cutover that happened.
type Switched struct {
	// Window is how long no write was accepted anywhere.
	Window time.Duration
	// ReadOnlyAt is when the source stopped taking writes: the window's start.
	ReadOnlyAt time.Time
	// Position is the source's last position, which the destination applied.
	Position string
	// SourceSnapshots and DestinationSnapshots read both sides as they were at the switch; the
	// caller verifies with them and closes them (conn.CloseAll).
	SourceSnapshots, DestinationSnapshots []*sql.Conn
}

// readOnlyVariables are what makes a server refuse writes: MySQL's super_read_only stops SUPER
// accounts too (and sets read_only); MariaDB has read_only only.
func readOnlyVariables(flavor conn.Flavor) []string {
	if flavor == conn.MySQL {
		return []string{"super_read_only"}
	}
	return []string{"read_only"}
}

// Run performs the cutover; see Cutover.
func (c Cutover) Run(ctx context.Context) (Switched, error) {
	status, err := Read(ctx, c.Destination, c.DestinationFlavor)
	if err != nil {
		return Switched{}, fmt.Errorf("reading the destination's replication status: %w", err)
	}
	if status.State() != Replicating {
		if explained := Explain(status); explained != "" {
			return Switched{}, fmt.Errorf("no cutover: the destination does not replicate: %s", explained)
		}
		return Switched{}, fmt.Errorf("no cutover: the destination's replication is %s; nothing was changed", status.State())
	}
	// One session on the source for the whole cutover: its lock wait bounds the drain.
	session, err := c.Source.Conn(ctx)
	if err != nil {
		return Switched{}, err
	}
	defer session.Close()
	variable := readOnlyVariables(c.SourceFlavor)[0]
	var wasReadOnly int
	if err := session.QueryRowContext(ctx, "SELECT @@GLOBAL."+variable).Scan(&wasReadOnly); err != nil {
		return Switched{}, err
	}
	if _, err := session.ExecContext(ctx, "SET SESSION lock_wait_timeout = ?", max(1, int(c.Drain.Seconds()))); err != nil {
		return Switched{}, err
	}
	started := time.Now()
	c.Log("the source takes no more writes (%s = ON); open write transactions have %s to end", variable, c.Drain)
	if _, err := session.ExecContext(ctx, "SET GLOBAL "+variable+" = ON"); err != nil {
		return Switched{}, c.rollback(ctx, session, variable, wasReadOnly, false,
			fmt.Errorf("the source could not be made read-only within %s (write transactions still open, or the account lacks the right): %v", c.Drain, err))
	}
	position, err := c.sourcePosition(ctx, session)
	if err != nil {
		return Switched{}, c.rollback(ctx, session, variable, wasReadOnly, false, err)
	}
	if err := c.waitFor(ctx, position); err != nil {
		return Switched{}, c.rollback(ctx, session, variable, wasReadOnly, false, err)
	}
	c.Log("the destination applied the source's last change (%s)", position)
	switched := Switched{Position: position, ReadOnlyAt: started}
	// Both sides hold still now (the source is read-only, the destination has applied everything
	// and is read-only to anyone but its replication): snapshots opened now see the same rows.
	if switched.SourceSnapshots, err = conn.OpenSnapshots(ctx, c.Source, max(1, c.Sessions), nil); err == nil {
		switched.DestinationSnapshots, err = conn.OpenSnapshots(ctx, c.Destination, max(1, c.Sessions), nil)
	}
	if err != nil {
		conn.CloseAll(switched.SourceSnapshots)
		conn.CloseAll(switched.DestinationSnapshots)
		return Switched{}, c.rollback(ctx, session, variable, wasReadOnly, false, fmt.Errorf("opening the snapshots to verify: %w", err))
	}
	for _, statement := range c.switchStatements() {
		if _, err := c.Destination.ExecContext(ctx, statement); err != nil {
			conn.CloseAll(switched.SourceSnapshots)
			conn.CloseAll(switched.DestinationSnapshots)
			return Switched{}, c.rollback(ctx, session, variable, wasReadOnly, true, fmt.Errorf("%s on the destination: %w", statement, err))
		}
	}
	switched.Window = time.Since(started)
	// Past this point the destination takes writes: nothing is rolled back. The replica's link to
	// the source (with its stored password) is removed.
	if _, err := c.Destination.ExecContext(ctx, c.forgetStatement()); err != nil {
		c.Log("the destination takes writes, but its replication settings could not be removed (%v): run %s on it", err, c.forgetStatement())
	}
	c.Log("cut over: the destination takes writes; no write was accepted anywhere for %s", switched.Window.Round(time.Millisecond))
	return switched, nil
}

func (c Cutover) sourcePosition(ctx context.Context, session *sql.Conn) (string, error) {
	variable := "@@GLOBAL.gtid_binlog_pos"
	if c.SourceFlavor == conn.MySQL {
		variable = "@@GLOBAL.gtid_executed"
	}
	var position string
	if err := session.QueryRowContext(ctx, "SELECT "+variable).Scan(&position); err != nil {
		return "", fmt.Errorf("reading the source's position: %w", err)
	}
	return position, nil
}

// waitFor waits until the destination has applied position, or CatchUp has passed, or its
// replication broke.
func (c Cutover) waitFor(ctx context.Context, position string) error {
	// Both answer 0 once the position is applied (-1 or 1 when the time ran out).
	wait := "SELECT MASTER_GTID_WAIT(?, ?)"
	if c.DestinationFlavor == conn.MySQL {
		wait = "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)"
	}
	var result sql.NullInt64
	if err := c.Destination.QueryRowContext(ctx, wait, position, c.CatchUp.Seconds()).Scan(&result); err != nil {
		return fmt.Errorf("waiting for the destination to apply %s: %w", position, err)
	}
	if result.Valid && result.Int64 == 0 {
		return nil
	}
	status, err := Read(ctx, c.Destination, c.DestinationFlavor)
	if err == nil && status.State() == Broken {
		return errors.New(Explain(status))
	}
	return fmt.Errorf("the destination had not applied the source's last change (%s) after %s", position, c.CatchUp)
}

// switchStatements stop the replication (its settings kept, for a rollback) and make the
// destination writable.
func (c Cutover) switchStatements() []string {
	if c.DestinationFlavor == conn.MySQL {
		return []string{"STOP REPLICA", "SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}
	}
	return []string{"STOP SLAVE", "SET GLOBAL read_only = OFF"}
}

func (c Cutover) forgetStatement() string {
	if c.DestinationFlavor == conn.MySQL {
		return "RESET REPLICA ALL"
	}
	return "RESET SLAVE ALL"
}

// rollback undoes a cutover that failed before the destination took writes: the destination
// replicates again (when its replication was stopped) and read-only, the source takes writes as
// it did before. Returns why the cutover failed, with what the rollback did.
func (c Cutover) rollback(ctx context.Context, session *sql.Conn, variable string, wasReadOnly int, replicationStopped bool, why error) error {
	problems := ""
	if replicationStopped {
		for _, statement := range c.rollbackDestination() {
			if _, err := c.Destination.ExecContext(ctx, statement); err != nil {
				problems += fmt.Sprintf("; %s on the destination failed too (%v)", statement, err)
			}
		}
	}
	if wasReadOnly == 0 {
		if _, err := session.ExecContext(ctx, "SET GLOBAL "+variable+" = OFF"); err != nil {
			return fmt.Errorf("cutover failed: %v; and the source could NOT be made writable again (%v): run SET GLOBAL %s = OFF on it%s", why, err, variable, problems)
		}
	}
	c.Log("rolled back: the source takes writes as before, the destination replicates")
	return fmt.Errorf("cutover failed, rolled back (the source takes writes as before, the destination still replicates and is read-only): %v%s", why, problems)
}

func (c Cutover) rollbackDestination() []string {
	if c.DestinationFlavor == conn.MySQL {
		return []string{"SET GLOBAL super_read_only = ON", "START REPLICA"}
	}
	return []string{"SET GLOBAL read_only = ON", "START SLAVE"}
}

// CloseSessions closes the source's sessions but the server's own threads and the sessions of
// the account it runs as (ferry's own: the cutover's snapshots, the comparison's reads). Once the
// applications' Service selects the destination, a connection an application still holds to the
// source would go on reading rows frozen at the cutover and have its writes refused; closed, it
// reconnects through the Service, to the destination. The cutover is done by then: nothing here
// fails it, and what could not be closed is said with the right it needs.
func CloseSessions(ctx context.Context, source *sql.DB, log func(string, ...any)) {
	sessions, err := applicationSessions(ctx, source)
	if err != nil {
		log("warning: the sessions the applications hold on the source could not be listed (%v): until they reconnect, they read the source as it was at the cutover and their writes are refused", err)
		return
	}
	accounts := map[string]bool{}
	closed, refused := 0, 0
	var refusal error
	for _, s := range sessions {
		// An id the server gave; a number, not text.
		_, err := source.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatInt(s.id, 10))
		var gone *mysql.MySQLError
		switch {
		case err == nil:
			closed++
			accounts[s.user] = true
		case errors.As(err, &gone) && gone.Number == unknownThread:
			// It ended by itself meanwhile.
		default:
			refused++
			refusal = err
		}
	}
	names := make([]string, 0, len(accounts))
	for name := range accounts {
		names = append(names, name)
	}
	sort.Strings(names)
	log("closed %d session(s) the applications held on the source (accounts: %s): they reconnect through the Service, to the destination", closed, strings.Join(names, ", "))
	if refused > 0 {
		log("warning: %d session(s) on the source could not be closed (%v): the source account needs CONNECTION ADMIN (SUPER before MariaDB 10.5.2; CONNECTION_ADMIN or SUPER on MySQL). Until their applications reconnect, they read the source as it was at the cutover and their writes are refused", refused, refusal)
	}
}

// session is one session of the source's: its id and its account's user name.
type session struct {
	id   int64
	user string
}

// applicationSessions lists the source's sessions CloseSessions closes, every row read or an error.
func applicationSessions(ctx context.Context, source *sql.DB) ([]session, error) {
	rows, err := source.QueryContext(ctx, `SELECT ID, USER FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND USER <> SUBSTRING_INDEX(CURRENT_USER(), '@', 1)
		AND USER NOT IN ('system user', 'event_scheduler', 'unauthenticated user')
		AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Killed')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sessions []session
	for rows.Next() {
		var s session
		if err := rows.Scan(&s.id, &s.user); err != nil {
			return nil, err
		}
		sessions = append(sessions, s)
	}
	// A listing that broke off is not taken for the whole list.
	return sessions, rows.Err()
}

// unknownThread is the server's error for a KILL of a session that has ended (ER_NO_SUCH_THREAD).
const unknownThread = 1094
