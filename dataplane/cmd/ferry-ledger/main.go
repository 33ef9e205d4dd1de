// Command ferry-ledger is the application of ferry's live-migration demo, tests and benchmark, not
// a part of ferry: it writes to a MySQL or MariaDB server at a steady rate, each transaction an
// insert of its own token and an update of a counter, and records every token whose transaction
// the server acknowledged (its COMMIT answered OK); later it checks a server against that ledger.
// A live migration loses no acknowledged write when, after the cutover, the destination holds
// every acknowledged token exactly once and a counter equal to the number of tokens it holds.
//
//	ferry-ledger write LEDGER_FILE   writes until SIGINT or SIGTERM (or LEDGER_SECONDS), appending
//	                                 each acknowledged token to LEDGER_FILE; prints a summary (JSON)
//	ferry-ledger check LEDGER_FILE   compares a server's ledger tables with LEDGER_FILE; prints the
//	                                 result (JSON), fails when a token is lost or duplicated
//
// The server: LEDGER_HOST, LEDGER_PORT, LEDGER_USER, LEDGER_PASSWORD_FILE, LEDGER_TLS and
// LEDGER_TLS_CA_FILE (package conn's settings). The tables: ledger.writes (token BIGINT) and
// ledger.counter (id 1, n BIGINT), which the caller makes. LEDGER_RATE transactions a second
// (default 50), LEDGER_FIRST_TOKEN (default: the clock in microseconds, so that runs never share a
// token). With LEDGER_NEXT_HOST and LEDGER_NEXT_PORT the writer moves between two servers, to the
// other each time the one it uses refuses it as read-only (a proxy that follows read_only). Its
// summary lists each time of LEDGER_GAP_MS (default 100) or more between two acknowledged
// transactions.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"ferry.local/dataplane/internal/conn"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ferry-ledger write|check LEDGER_FILE")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var result any
	var err error
	switch os.Args[1] {
	case "write":
		result, err = write(ctx, os.Args[2])
	case "check":
		var checked Checked
		checked, err = check(context.Background(), os.Args[2])
		result = checked
		if err == nil && !checked.OK {
			err = fmt.Errorf("the ledger does not hold: %d acknowledged tokens lost, %d duplicated, counter %d for %d tokens", checked.Lost, checked.Duplicated, checked.Counter, checked.Present)
		}
	default:
		err = fmt.Errorf("unknown command %q (write or check)", os.Args[1])
	}
	if result != nil {
		data, _ := json.Marshal(result)
		fmt.Println(string(data))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferry-ledger: %v\n", err)
		os.Exit(1)
	}
}

// number reads a whole-number environment variable, or def when it is not set.
func number(name string, def int64) (int64, error) {
	value := os.Getenv(name)
	if value == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number, not %q", name, value)
	}
	return n, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s ferry-ledger: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func open() (*conn.Settings, error) {
	settings, err := conn.FromEnvironment("LEDGER")
	if err != nil {
		return nil, err
	}
	return &settings, nil
}
