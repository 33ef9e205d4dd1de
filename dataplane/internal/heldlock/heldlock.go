// Package heldlock holds a lock for as long as a step needs it: a named lock (GET_LOCK), or read
// locks on tables (LOCK TABLES ... READ). A lock lives as long as its session, and a session left
// idle past the server's wait_timeout is closed by the server, which releases the lock without a
// word: a step that believed itself alone would go on beside another, a dump that believed a
// table unchanging would read it changed. Both keep the session busy and say when the lock is
// lost anyway (the session killed, the server restarted).
package heldlock

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"ferry.local/dataplane/internal/sqlident"
)

// Lock is a held lock.
type Lock struct {
	conn *sql.Conn
	name string
	// held asks the lock's session whether it still holds the lock.
	held func(ctx context.Context) (bool, error)
	// release lets the lock go.
	release func(ctx context.Context)
	lost    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	err     error
}

// Acquire takes the lock, waiting up to wait for another session to release it; held is false
// when it could not.
func Acquire(ctx context.Context, db *sql.DB, name string, wait time.Duration) (lock *Lock, held bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	var got sql.NullInt64
	var timeout int64
	err = conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?), @@SESSION.wait_timeout", name, int(wait.Seconds())).Scan(&got, &timeout)
	if err != nil || got.Int64 != 1 {
		conn.Close()
		return nil, false, err
	}
	l := &Lock{conn: conn, name: fmt.Sprintf("the lock %q", name)}
	l.release = func(ctx context.Context) { _, _ = conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", name) }
	l.held = func(ctx context.Context) (bool, error) {
		var mine sql.NullBool
		err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", name).Scan(&mine)
		return mine.Bool, err
	}
	l.start(time.Duration(timeout) * time.Second)
	return l, true, nil
}

// ReadLockTables takes read locks on tables (each a database and a name) in a session of its own,
// waiting up to wait for writers that hold them: until Release, every other session may read them
// and none may write. A session under FLUSH TABLES WITH READ LOCK does not stop it, nor one under
// BACKUP STAGE BLOCK_COMMIT.
//
// With LOCK TABLES ... READ (flush false) a writer waits in the table's own lock queue, where a
// waiting writer goes before every later plain read (a HIGH_PRIORITY read goes past it): a dump
// tool's read of the table would wait for the writer, which waits for this lock, which waits for
// the dump (a dump beside an application writing to a MyISAM table never ended). With FLUSH TABLES
// ... WITH READ LOCK (flush true) a writer waits for the table's metadata lock instead, and every
// read goes on past it; but it must wait for each statement that has the table open to end, so it
// is only for a moment when no writer is inside one (under FLUSH TABLES WITH READ LOCK, not under
// BACKUP STAGE BLOCK_COMMIT, where a writer may hold the table open while it waits to commit).
func ReadLockTables(ctx context.Context, db *sql.DB, tables [][2]string, wait time.Duration, flush bool) (*Lock, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = sqlident.Qualified(t[0], t[1])
	}
	lock := "LOCK TABLES " + strings.Join(names, " READ, ") + " READ"
	if flush {
		lock = "FLUSH TABLES " + strings.Join(names, ", ") + " WITH READ LOCK"
	}
	var timeout int64
	statements := []string{
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", max(1, int(wait.Seconds()))),
		lock,
	}
	for _, statement := range statements {
		if _, err = conn.ExecContext(ctx, statement); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.wait_timeout").Scan(&timeout); err != nil {
		conn.Close()
		return nil, err
	}
	l := &Lock{conn: conn, name: fmt.Sprintf("the read lock on %d table(s)", len(tables))}
	l.release = func(ctx context.Context) { _, _ = conn.ExecContext(ctx, "UNLOCK TABLES") }
	// Table locks belong to the session: as long as it answers, they are held.
	l.held = func(ctx context.Context) (bool, error) {
		_, err := conn.ExecContext(ctx, "DO 1")
		return err == nil, err
	}
	l.start(time.Duration(timeout) * time.Second)
	return l, nil
}

func (l *Lock) start(waitTimeout time.Duration) {
	l.lost, l.stop, l.done = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go l.keep(Interval(waitTimeout))
}

// Interval is how often the lock's session is used: a third of the server's wait_timeout, at
// most every 30 s and at least every 200 ms.
func Interval(waitTimeout time.Duration) time.Duration {
	return min(max(waitTimeout/3, 200*time.Millisecond), 30*time.Second)
}

// keep asks, every interval, whether the lock is still this session's.
func (l *Lock) keep(interval time.Duration) {
	defer close(l.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := l.Confirm(ctx)
		cancel()
		if err == nil {
			continue
		}
		l.err = err
		close(l.lost)
		return
	}
}

// Confirm asks the lock's session now whether it still holds the lock: a loss since the last
// periodic check is known before the step relies on the lock having held.
func (l *Lock) Confirm(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	mine, err := l.held(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%s was lost: its session ended (%v)", l.name, err)
	case !mine:
		return fmt.Errorf("%s was lost: its session no longer holds it", l.name)
	}
	return nil
}

// Released is closed once Release is called.
func (l *Lock) Released() <-chan struct{} { return l.stop }

// Lost is closed when the lock is found lost; Err then says how.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err says how the lock was lost (nil while it is held).
func (l *Lock) Err() error {
	select {
	case <-l.lost:
		return l.err
	default:
		return nil
	}
}

// Release lets the lock go and closes its session.
func (l *Lock) Release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.release(ctx)
		l.conn.Close()
	})
}
