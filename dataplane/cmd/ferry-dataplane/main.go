// ferry-dataplane is the typed part of ferry's data plane, run in the Jobs' pods and by the dump
// on a source host. Subcommands:
//
//	preflight on the source, before the dump: refuses what the dump could not carry exactly
//	digest   on the source, inside the dump's snapshot: the definition and content digests of every
//	         object of DATABASES, written as the manifest's digest fields to DIGEST_FILE
//	verify   on the destination: the same digests, compared with the run's manifest (MANIFEST);
//	         the result goes to RESULT_FILE, and any difference fails the command
//	count FILE
//	         copies stdin to stdout and keeps the number of bytes passed so far in FILE (every
//	         second and at the end), for the progress lines of the shell steps
//	client-options PREFIX FILE
//	         a MySQL client option file (0600) for the mariadb client and dump tool, from PREFIX_HOST,
//	         _PORT, _USER and the password, whatever bytes it holds, written so they read it back
//
// Connection settings come from the environment (SOURCE_* or DEST_*: HOST, PORT, USER and
// PASSWORD_FILE or PASSWORD); no MySQL option file is ever read.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/preflight"
	"ferry.local/dataplane/internal/verify"
)

var step = "ferry-dataplane"

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05Z"), step, fmt.Sprintf(format, args...))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ferry-dataplane preflight | digest | verify | count FILE | client-options PREFIX FILE")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "digest":
		step = "ferry-dump"
		err = runDigest(ctx)
	case "preflight":
		step = "ferry-dump"
		err = runPreflight(ctx)
	case "verify":
		step = "ferry-verify"
		err = runVerify(ctx)
	case "count":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: ferry-dataplane count FILE")
			os.Exit(2)
		}
		err = count(os.Args[2])
	case "client-options":
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, "usage: ferry-dataplane client-options PREFIX FILE")
			os.Exit(2)
		}
		err = writeClientOptions(os.Args[2], os.Args[3])
	default:
		fmt.Fprintf(os.Stderr, "ferry-dataplane: unknown subcommand %q (preflight, digest, verify, count, client-options)\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		logf("ERROR: %v", err)
		os.Exit(1)
	}
}

func requireEnv(name string) (string, error) {
	value := os.Getenv(name)
	if value == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return value, nil
}

func sessionCount() (int, error) {
	text := os.Getenv("SESSIONS")
	if text == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > 16 {
		return 0, fmt.Errorf("SESSIONS must be a whole number from 1 to 16, not %q", text)
	}
	return n, nil
}

// openSnapshots opens n sessions, each inside its own consistent snapshot, and reports each
// session's connection id to announce (so the dump can tell them from its own streams).
func openSnapshots(ctx context.Context, db *sql.DB, n int, announce func(id int64)) ([]*sql.Conn, error) {
	sessions := make([]*sql.Conn, 0, n)
	for i := 0; i < n; i++ {
		session, err := db.Conn(ctx)
		if err != nil {
			return sessions, err
		}
		sessions = append(sessions, session)
		for _, statement := range []string{
			"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
			"START TRANSACTION WITH CONSISTENT SNAPSHOT",
		} {
			if _, err := session.ExecContext(ctx, statement); err != nil {
				return sessions, fmt.Errorf("opening a snapshot: %w", err)
			}
		}
		var id int64
		if err := session.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			return sessions, err
		}
		if announce != nil {
			announce(id)
		}
	}
	return sessions, nil
}

func closeAll(sessions []*sql.Conn) {
	for _, s := range sessions {
		_ = s.Close()
	}
}

// progress logs how far the content digests are, at most every 10 seconds.
func progress(total int) func(digest.Object) {
	var mu sync.Mutex
	done := 0
	var rows int64
	started := time.Now()
	last := started
	return func(o digest.Object) {
		mu.Lock()
		defer mu.Unlock()
		done++
		rows += o.Rows
		if time.Since(last) >= 10*time.Second || done == total {
			last = time.Now()
			logf("digested %d of %d tables and sequences, %d rows, %.0fs", done, total, rows, time.Since(started).Seconds())
		}
	}
}

func countContent(objects []digest.Object) int {
	n := 0
	for _, o := range objects {
		if o.HasContent() {
			n++
		}
	}
	return n
}

// runDigest: the source side. It prints "connection\t<id>" for each session, then "ready" once
// every session has its snapshot and every definition is read (the dump holds its global read
// lock until then), and "finished" when DIGEST_FILE is written.
func runDigest(ctx context.Context) error {
	databases := strings.Fields(os.Getenv("DATABASES"))
	if len(databases) == 0 {
		return errors.New("environment variable DATABASES is not set")
	}
	out, err := requireEnv("DIGEST_FILE")
	if err != nil {
		return err
	}
	n, err := sessionCount()
	if err != nil {
		return err
	}
	db, err := conn.OpenFromEnvironment("SOURCE")
	if err != nil {
		return err
	}
	defer db.Close()
	stdout := bufio.NewWriter(os.Stdout)
	sessions, err := openSnapshots(ctx, db, n, func(id int64) {
		fmt.Fprintf(stdout, "connection\t%d\n", id)
	})
	defer closeAll(sessions)
	if err != nil {
		return errors.New(conn.Explain(err, "the source database", "ferry:source"))
	}
	objects, err := digest.Catalog(ctx, sessions[0], databases)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	if err := stdout.Flush(); err != nil {
		return err
	}
	if err := digest.Contents(ctx, sessions, objects, progress(countContent(objects))); err != nil {
		return err
	}
	file, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := manifest.WriteDigestFields(file, objects); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	fmt.Println("finished")
	return nil
}

// Result is what the verification stores beside the manifest (runs/<runId>/verification.json).
type Result struct {
	RunID            string            `json:"runId"`
	OK               bool              `json:"ok"`
	Tables           int               `json:"tables"`
	Rows             int64             `json:"rows"`
	Objects          int               `json:"objects"`
	MismatchedTables int               `json:"mismatchedTables"`
	Mismatches       []verify.Mismatch `json:"mismatches"`
	VerifiedAt       string            `json:"verifiedAt"`
}

func runVerify(ctx context.Context) error {
	manifestFile, err := requireEnv("MANIFEST")
	if err != nil {
		return err
	}
	resultFile, err := requireEnv("RESULT_FILE")
	if err != nil {
		return err
	}
	m, err := manifest.Read(manifestFile)
	if err != nil {
		return err
	}
	db, err := conn.OpenFromEnvironment("DEST")
	if err != nil {
		return err
	}
	defer db.Close()
	n := m.DataStreams()
	if n < 1 {
		n = 1
	}
	sessions, err := openSnapshots(ctx, db, n, nil)
	defer closeAll(sessions)
	if err != nil {
		return errors.New(conn.Explain(err, "the destination database", "ferry:destination"))
	}
	logf("digesting %d objects of %s on the destination in %d sessions", len(m.Digests), m.Databases, n)
	actual, err := digest.Catalog(ctx, sessions[0], m.DatabaseList())
	if err != nil {
		return err
	}
	if err := digest.Contents(ctx, sessions, actual, progress(countContent(actual))); err != nil {
		return err
	}
	mismatches := verify.Compare(m.Digests, actual)
	result := Result{RunID: m.RunID, OK: len(mismatches) == 0, Objects: len(m.Digests),
		MismatchedTables: len(mismatches), Mismatches: mismatches,
		VerifiedAt: time.Now().UTC().Format("2006-01-02T15:04:05Z")}
	if result.Mismatches == nil {
		result.Mismatches = []verify.Mismatch{}
	}
	for _, o := range m.Digests {
		if o.Kind == digest.Table {
			result.Tables++
			result.Rows += o.Rows
		}
	}
	data, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(resultFile, append(data, '\n'), 0o600); err != nil {
		return err
	}
	for _, mismatch := range mismatches {
		logf("differs: %s: %s", mismatch.Object, mismatch.Problem)
	}
	if !result.OK {
		return fmt.Errorf("verification failed: %d of %d objects differ from the dump of run %s (details above)", len(mismatches), len(m.Digests), m.RunID)
	}
	logf("verified: all %d objects, %d tables (%d rows), match the dump of run %s", len(m.Digests), result.Tables, result.Rows, m.RunID)
	return nil
}

// writeClientOptions writes the [client] group the shell steps hand to the mariadb client and dump
// tool as their only option file (--defaults-file).
func writeClientOptions(prefix, path string) error {
	settings, err := conn.FromEnvironment(prefix)
	if err != nil {
		return err
	}
	text, err := conn.ClientOptions(settings)
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := file.WriteString(text); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// count copies stdin to stdout, recording the bytes passed in file: written to a temporary name
// and renamed, so a reader never sees half a number.
func count(file string) error {
	var passed atomic.Int64
	record := func() {
		tmp := file + ".tmp"
		if os.WriteFile(tmp, []byte(strconv.FormatInt(passed.Load(), 10)+"\n"), 0o600) == nil {
			_ = os.Rename(tmp, file)
		}
	}
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				record()
			case <-done:
				return
			}
		}
	}()
	buffer := make([]byte, 256<<10)
	var err error
	for {
		n, readErr := os.Stdin.Read(buffer)
		if n > 0 {
			if _, writeErr := os.Stdout.Write(buffer[:n]); writeErr != nil {
				err = writeErr
				break
			}
			passed.Add(int64(n))
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			err = readErr
			break
		}
	}
	close(done)
	record()
	return err
}

// runPreflight: every problem at once, each naming the object and the fix.
func runPreflight(ctx context.Context) error {
	databases := strings.Fields(os.Getenv("DATABASES"))
	db, err := conn.OpenFromEnvironment("SOURCE")
	if err != nil {
		return err
	}
	defer db.Close()
	problems, err := preflight.InexactFloats(ctx, db, databases)
	if err != nil {
		return err
	}
	for _, problem := range problems {
		logf("refused: %s", problem)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the source holds %d thing(s) the dump cannot carry exactly (above); nothing was written", len(problems))
	}
	return nil
}
