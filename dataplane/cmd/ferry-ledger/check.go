package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"ferry.local/dataplane/internal/conn"
)

// Checked compares a server's ledger tables with the writer's ledger.
type Checked struct {
	// Acknowledged counts the ledger's tokens, Present the server's rows.
	Acknowledged int `json:"acknowledged"`
	Present      int `json:"present"`
	// Lost counts acknowledged tokens the server does not hold; Duplicated tokens it holds twice
	// or more; Unacknowledged tokens it holds that are not in the ledger (a COMMIT whose answer was
	// lost, or an earlier run's: allowed, never a loss).
	Lost           int   `json:"lost"`
	Duplicated     int   `json:"duplicated"`
	Unacknowledged int   `json:"unacknowledged"`
	Counter        int64 `json:"counter"`
	OK             bool  `json:"ok"`
}

// Compare checks the server's tokens and counter against the acknowledged tokens: each
// acknowledged one held exactly once, none held twice, and the counter equal to the rows (each
// transaction's update applied once with its insert).
func Compare(acknowledged, present []int64, counter int64) Checked {
	c := Checked{Acknowledged: len(acknowledged), Present: len(present), Counter: counter}
	held := make(map[int64]int, len(present))
	for _, token := range present {
		held[token]++
		if held[token] == 2 {
			c.Duplicated++
		}
	}
	acked := make(map[int64]bool, len(acknowledged))
	for _, token := range acknowledged {
		acked[token] = true
		if held[token] == 0 {
			c.Lost++
		}
	}
	for token := range held {
		if !acked[token] {
			c.Unacknowledged++
		}
	}
	c.OK = c.Lost == 0 && c.Duplicated == 0 && counter == int64(len(present))
	return c
}

func check(ctx context.Context, ledgerFile string) (Checked, error) {
	acknowledged, err := readLedger(ledgerFile)
	if err != nil {
		return Checked{}, err
	}
	settings, err := open()
	if err != nil {
		return Checked{}, err
	}
	db, err := conn.Open(*settings)
	if err != nil {
		return Checked{}, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT token FROM ledger.writes")
	if err != nil {
		return Checked{}, err
	}
	defer rows.Close()
	var present []int64
	for rows.Next() {
		var token int64
		if err := rows.Scan(&token); err != nil {
			return Checked{}, err
		}
		present = append(present, token)
	}
	if err := rows.Err(); err != nil {
		return Checked{}, err
	}
	var counter int64
	if err := db.QueryRowContext(ctx, "SELECT n FROM ledger.counter WHERE id = 1").Scan(&counter); err != nil {
		return Checked{}, err
	}
	return Compare(acknowledged, present, counter), nil
}

func readLedger(path string) ([]int64, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var tokens []int64
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" {
			continue
		}
		token, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a token", path, line)
		}
		tokens = append(tokens, token)
	}
	return tokens, lines.Err()
}
