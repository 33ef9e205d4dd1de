package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry.local/dataplane/internal/conn"
)

// Written is what a writer did: how many transactions the server acknowledged and refused, and
// the longest time between two acknowledgements, which is the write-unavailable window as the
// application saw it when it was moved to the new server meanwhile.
type Written struct {
	Acknowledged int64 `json:"acknowledged"`
	Refused      int64 `json:"refused"`
	LongestGapMs int64 `json:"longestGapMs"`
	// RefusedAtEndMs is how long the writer was refused before it stopped (0: its last
	// transaction was acknowledged).
	RefusedAtEndMs int64  `json:"refusedAtEndMs"`
	LastRefusal    string `json:"lastRefusal"`
	Seconds        int64  `json:"seconds"`
	// Moves counts the times the writer moved to the other server (LEDGER_NEXT_HOST).
	Moves int64 `json:"moves"`
	// Gaps are the times between two acknowledged transactions of LEDGER_GAP_MS (default 100) or
	// more, the first 1000: when the application could not write, to be set beside what ran then.
	Gaps []Gap `json:"gaps"`
}

// Gap is a time without an acknowledged transaction: from the last one before it, for Ms.
type Gap struct {
	From string `json:"from"`
	Ms   int64  `json:"ms"`
}

// gapsKept bounds Written.Gaps: a server away for minutes is one gap, a slow one many.
const gapsKept = 1000

// servers is where the writer writes: one server, or with LEDGER_NEXT_HOST and LEDGER_NEXT_PORT
// two (the same account, password and TLS), of which it uses one and moves to the other each time
// the one it uses refuses it as read-only: an application behind a proxy that follows read_only
// (ProxySQL's monitor) or a connector with a failover list, which a cutover moves to the new
// server without anything of the application changing.
type servers struct {
	dbs []*sql.DB
	at  int
}

func openServers() (*servers, error) {
	settings, err := open()
	if err != nil {
		return nil, err
	}
	all := []conn.Settings{*settings}
	if host := os.Getenv("LEDGER_NEXT_HOST"); host != "" {
		next := *settings
		next.Host, next.Port = host, os.Getenv("LEDGER_NEXT_PORT")
		if next.Port == "" {
			return nil, fmt.Errorf("LEDGER_NEXT_HOST is set without LEDGER_NEXT_PORT")
		}
		all = append(all, next)
	}
	s := &servers{}
	for _, one := range all {
		db, err := conn.Open(one)
		if err != nil {
			s.close()
			return nil, err
		}
		// One session, as an application's connection: a refused or lost one is opened again.
		db.SetMaxOpenConns(1)
		s.dbs = append(s.dbs, db)
	}
	return s, nil
}

func (s *servers) current() *sql.DB { return s.dbs[s.at] }

// refused moves to the other server when err is the one in use refusing a write as read-only,
// and says whether it moved.
func (s *servers) refused(err error) bool {
	if len(s.dbs) < 2 || !readOnly(err) {
		return false
	}
	s.at = (s.at + 1) % len(s.dbs)
	return true
}

func (s *servers) close() {
	for _, db := range s.dbs {
		_ = db.Close()
	}
}

// readOnly: the server refused a statement because it runs read-only (ER_OPTION_PREVENTS_STATEMENT).
func readOnly(err error) bool {
	var refusal *mysql.MySQLError
	return errors.As(err, &refusal) && refusal.Number == 1290
}

func write(ctx context.Context, ledgerFile string) (Written, error) {
	var w Written
	rate, err := number("LEDGER_RATE", 50)
	if err != nil {
		return w, err
	}
	// Tokens from the clock by default: a run's never meet an earlier run's in the same tables.
	token, err := number("LEDGER_FIRST_TOKEN", time.Now().UnixMicro())
	if err != nil {
		return w, err
	}
	limit, err := number("LEDGER_SECONDS", 0)
	if err != nil {
		return w, err
	}
	gapMs, err := number("LEDGER_GAP_MS", 100)
	if err != nil {
		return w, err
	}
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(limit)*time.Second)
		defer cancel()
	}
	to, err := openServers()
	if err != nil {
		return w, err
	}
	defer to.close()
	ledger, err := os.OpenFile(ledgerFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return w, err
	}
	defer ledger.Close()
	started := time.Now()
	lastAck := started
	every := time.Second / time.Duration(max(1, rate))
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for {
		select {
		case <-ctx.Done():
			w.Seconds = int64(time.Since(started).Seconds())
			if w.Refused > 0 {
				// A writer that stays on a server made read-only is refused until it stops: that
				// time is the application's not being moved, not a window between two writes.
				w.RefusedAtEndMs = time.Since(lastAck).Milliseconds()
			}
			logf("stopped: %d acknowledged, %d refused; longest time between two acknowledged writes %d ms", w.Acknowledged, w.Refused, w.LongestGapMs)
			return w, nil
		case <-progress.C:
			logf("%d acknowledged, %d refused (last refusal: %s)", w.Acknowledged, w.Refused, orNone(w.LastRefusal))
		case <-ticker.C:
		}
		if err := transaction(ctx, to.current(), token); err != nil {
			if ctx.Err() != nil {
				continue
			}
			w.Refused++
			w.LastRefusal = err.Error()
			if to.refused(err) {
				w.Moves++
			}
		} else {
			now := time.Now()
			gap := now.Sub(lastAck).Milliseconds()
			w.LongestGapMs = max(w.LongestGapMs, gap)
			if gap >= gapMs && len(w.Gaps) < gapsKept {
				w.Gaps = append(w.Gaps, Gap{From: lastAck.UTC().Format(time.RFC3339Nano), Ms: gap})
			}
			lastAck = now
			w.Acknowledged++
			if _, err := ledger.WriteString(strconv.FormatInt(token, 10) + "\n"); err != nil {
				return w, fmt.Errorf("the server acknowledged token %d but the ledger could not record it: %v", token, err)
			}
		}
		token++
	}
}

// transaction inserts token and counts it, committed as one; nil only when the COMMIT was
// acknowledged.
func transaction(ctx context.Context, db *sql.DB, token int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO ledger.writes (token) VALUES (?)", token); err != nil {
		_ = tx.Rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE ledger.counter SET n = n + 1 WHERE id = 1"); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
