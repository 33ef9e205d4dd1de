// ferry-dataplane is ferry's data plane, run in the Jobs' pods and, for the local and ssh
// source modes, on the source host (a static binary: no runtime needed there). Subcommands:
//
//	dump      on the source: a consistent dump of DATABASES, stored in chunks with their digests
//	          and a manifest written last (package dump)
//	preflight on the source: refuses what the dump could not carry exactly
//	manifest get FILE
//	          the run's manifest, read from the object store into FILE; a run without one is
//	          explained (the dump never completed)
//	manifest field FILE NAME
//	          one field of a manifest for the import's glue: compression, databases, tableCount,
//	          bytes, streams (data streams, then definitions), digest (of every chunk's sha256)
//	fetch STREAM
//	          the SQL of one stream of the run, each chunk checked against its sha256 before a
//	          byte of it is written to stdout
//	verify    on the destination: every object's digest, compared with the manifest's; the result
//	          is stored as runs/<RUN_ID>/verification.json, and any difference fails the command
//	cleanup   removes the run's chunks once it verified, unless KEEP_DUMP
//	report    the run's manifest and verification result as one JSON document
//	client-options PREFIX FILE
//	          a MySQL client option file (0600) from PREFIX_HOST, _PORT, _USER and the password,
//	          whatever bytes it holds, written so the client reads it back whole
//
// Connection settings come from the environment (SOURCE_* or DEST_*: HOST, PORT, USER and
// PASSWORD_FILE or PASSWORD; S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY_FILE or S3_SECRET_KEY,
// S3_BUCKET, S3_INSECURE); no MySQL option file is ever read, and a secret read from the
// environment is removed from it before any child process starts.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/preflight"
)

// step names the program in its log lines: the shell glue's step (FERRY_STEP) when it runs one.
var step = "ferry-dataplane"

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05Z"), step, fmt.Sprintf(format, args...))
}

const usage = "usage: ferry-dataplane dump | preflight | manifest get FILE | manifest field FILE NAME | fetch STREAM | verify | cleanup | report | client-options PREFIX FILE"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if name := os.Getenv("FERRY_STEP"); name != "" {
		step = name
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[2:]
	arity := func(n int) {
		if len(args) != n {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
	}
	var err error
	switch os.Args[1] {
	case "dump":
		arity(0)
		err = runDump(ctx)
	case "preflight":
		arity(0)
		err = runPreflight(ctx)
	case "manifest":
		if len(args) == 2 && args[0] == "get" {
			err = getManifest(ctx, args[1])
		} else if len(args) == 3 && args[0] == "field" {
			err = manifestField(args[1], args[2])
		} else {
			arity(-1)
		}
	case "fetch":
		arity(1)
		err = runFetch(ctx, args[0])
	case "verify":
		arity(0)
		err = runVerify(ctx)
	case "cleanup":
		arity(0)
		err = runCleanup(ctx)
	case "report":
		arity(0)
		err = runReport(ctx)
	case "client-options":
		arity(2)
		err = writeClientOptions(args[0], args[1])
	default:
		fmt.Fprintf(os.Stderr, "ferry-dataplane: unknown subcommand %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		logf("ERROR: %v", err)
		// The glue reports a failed stage in its own words from this file.
		if file := os.Getenv("FAILURE_FILE"); file != "" {
			_ = os.WriteFile(file, []byte(err.Error()+"\n"), 0o600)
		}
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

var lookPath = exec.LookPath

func bufioWriter() *bufio.Writer { return bufio.NewWriterSize(os.Stdout, 256<<10) }

// keepCount writes the value of n to file every second and once more when stopped: written to a
// temporary name and renamed, so a reader never sees half a number.
func keepCount(file string, n *atomic.Int64) (stop func()) {
	record := func() {
		tmp := file + ".tmp"
		if os.WriteFile(tmp, []byte(strconv.FormatInt(n.Load(), 10)+"\n"), 0o600) == nil {
			_ = os.Rename(tmp, file)
		}
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
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
	return func() {
		close(done)
		<-ended
		record()
	}
}
