// ferry-dataplane is ferry's data plane, run in the Jobs' pods and, for the local and ssh
// source modes, on the source host (a static binary: no runtime needed there). Subcommands:
//
//	dump      on the source: a consistent dump of DATABASES, stored in chunks with their digests
//	          and a manifest written last (package dump)
//	preflight on the source, before anything: the user's privileges, collations the destination
//	          (DEST_FLAVOUR) cannot take, the size against DEST_STORAGE_BYTES, values the dump
//	          cannot carry exactly; the definers the objects keep (package preflight)
//	import    on the destination: the run's dump, each chunk checked against its sha256 before a
//	          byte of it is used, into the destination's client sessions; recorded in ferry.runs
//	          (package load); with FOLLOW_DUMP=true it starts beside the dump and follows it as it
//	          stores its chunks, ending only with its manifest (package follow)
//	verify    on the destination: every object's digest, compared with the manifest's; the result
//	          is stored as runs/<RUN_ID>/verification.json, and any difference fails the command
//	cleanup   removes the run's chunks once it verified, unless KEEP_DUMP
//	report    the run's manifest and verification result as one JSON document
//	revoke    with the object store's admin credentials: turns off the run's bucket users (USERS,
//	          a JSON array) once the run is over, or once a step failed
//	grant     the same, turning them on, before a step that needs them runs
//	watch     on the operator's machine: prints the log lines a step in a cluster (WATCH_STEP, dump
//	          or import) posts to the bucket, until it ends (package beacon)
//	certificates in the destination cluster: the server's CA and certificate, made there and kept
//	          in its namespace, replaced near their end (package certs)
//	forget    in the source cluster, once the dump is stored: deletes the Secret that gave the
//	          dump its credentials (FORGET_SECRET)
//	reach     live mode, beside the dump: the source reached and logged in to as the replication
//	          account from the destination's side, as the replica will (REPL_*)
//	replicate live mode, after the verification: the destination made a replica of the source
//	          from the dump's position (REPL_*; package replica)
//	cutover   live mode: the writes moved to the destination (the source read-only, the destination
//	          caught up and made writable, rolled back on failure), then both sides compared
//	restore   in the destination database's pod, before its server starts, for a run of method
//	          physical: the copy's chunks, each checked first, unpacked and prepared in the empty
//	          DATA_DIR, the destination's account set on it (package restore)
//	attempt   what the run's dump states of itself while it runs: its attempt and each stream's
//	          index of the chunks stored so far, as JSON (package follow)
//
// Connection settings come from the environment (SOURCE_* or DEST_*: HOST, PORT, USER and
// PASSWORD_FILE or PASSWORD; S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY_FILE or S3_SECRET_KEY,
// S3_BUCKET, S3_INSECURE); no MySQL option file is ever read, and a secret read from the
// environment is removed from it before any child process starts.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ferry.local/dataplane/internal/beacon"
	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/logline"
	"ferry.local/dataplane/internal/preflight"
	"ferry.local/dataplane/internal/seal"
)

// step names the program in its log lines: the shell glue's step (FERRY_STEP) when it runs one.
var step = "ferry-dataplane"

// posted, when the step runs in a cluster, carries its log lines to the operator (package beacon).
var posted *beacon.Beacon

func logf(format string, args ...any) {
	// One line whatever the names and values in it hold: they come from the databases.
	line := fmt.Sprintf("%s %s: %s", time.Now().UTC().Format("2006-01-02T15:04:05Z"), step, logline.Escape(fmt.Sprintf(format, args...)))
	fmt.Fprintln(os.Stderr, line)
	if posted != nil {
		posted.Add(line)
	}
}

// post starts carrying this step's log lines to the bucket when its Job asks for it
// (FERRY_BEACON=true): pulumi up shows them through ferry-dataplane watch.
func post(store beacon.Store, key *seal.Key, runID, name string) {
	if os.Getenv("FERRY_BEACON") == "true" && posted == nil {
		posted = beacon.Start(store, *key, runID, name, 5*time.Second)
	}
}

const usage = "usage: ferry-dataplane dump | preflight | import | verify | cleanup | report | revoke | grant | watch | certificates | forget | replicate | cutover | attempt | restore"

// subcommands are the steps, by name.
var subcommands = map[string]func(context.Context) error{
	"dump":         runDump,
	"preflight":    runPreflight,
	"import":       runImport,
	"verify":       runVerify,
	"cleanup":      runCleanup,
	"report":       runReport,
	"revoke":       runRevoke,
	"grant":        runGrant,
	"watch":        runWatch,
	"certificates": runCertificates,
	"forget":       runForget,
	"replicate":    runReplicate,
	"reach":        runReach,
	"cutover":      runCutover,
	"attempt":      runAttempt,
	"restore":      runRestore,
}

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
	// Every subcommand takes its settings from the environment and no arguments.
	run, known := subcommands[os.Args[1]]
	if !known {
		fmt.Fprintf(os.Stderr, "ferry-dataplane: unknown subcommand %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	err := profiled(func() error { return run(ctx) })
	if err != nil {
		logf("ERROR: %v", err)
	}
	if posted != nil {
		posted.Finish(err)
	}
	if err != nil {
		// The glue reports a failed stage in its own words from this file.
		if file := os.Getenv("FAILURE_FILE"); file != "" {
			_ = os.WriteFile(file, []byte(logline.Escape(err.Error())+"\n"), 0o600)
		}
		os.Exit(1)
	}
}

// profiled runs a subcommand under Go's CPU profiler when FERRY_CPU_PROFILE names a file to write
// the profile to (go tool pprof reads it): where a step's own CPU goes, for the benchmark's
// levers. Without it, run is only called.
func profiled(run func() error) error {
	path := os.Getenv("FERRY_CPU_PROFILE")
	if path == "" {
		return run()
	}
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("FERRY_CPU_PROFILE: %v", err)
	}
	defer file.Close()
	if err := pprof.StartCPUProfile(file); err != nil {
		return fmt.Errorf("FERRY_CPU_PROFILE: %v", err)
	}
	defer pprof.StopCPUProfile()
	return run()
}

func requireEnv(name string) (string, error) {
	value := os.Getenv(name)
	if value == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return value, nil
}

// runPreflight: every problem at once, each naming the object and the fix, before anything is
// written or installed; warnings are said and do not stop the run.
func runPreflight(ctx context.Context) error {
	databases, err := databaseList(os.Getenv("DATABASES"))
	if err != nil {
		return err
	}
	var storage int64
	if text := os.Getenv("DEST_STORAGE_BYTES"); text != "" {
		if storage, err = strconv.ParseInt(text, 10, 64); err != nil || storage < 0 {
			return fmt.Errorf("DEST_STORAGE_BYTES must be a number of bytes, not %q", text)
		}
	}
	destination := preflight.ParseDestination(os.Getenv("DEST_FLAVOUR"), storage)
	db, err := conn.OpenFromEnvironment("SOURCE")
	if err != nil {
		return err
	}
	defer db.Close()
	report, err := preflight.Source(ctx, db, databases, destination, os.Getenv("STRIP_DEFINERS") == "true")
	if err != nil {
		return fmt.Errorf("the preflight could not read the source: %v", conn.Explain(err, "the source database", "ferry:source"))
	}
	// Live mode: what the destination's replica will need of the source (LIVE_DEST_SERVER_ID,
	// LIVE_COPY_SECONDS), and the cutover of the source user (LIVE_CLOSES_SESSIONS).
	if os.Getenv("LIVE") == "true" {
		serverID, err := strconv.ParseInt(os.Getenv("LIVE_DEST_SERVER_ID"), 10, 64)
		if err != nil {
			return fmt.Errorf("LIVE_DEST_SERVER_ID must be a number, not %q", os.Getenv("LIVE_DEST_SERVER_ID"))
		}
		copySeconds, err := strconv.ParseInt(os.Getenv("LIVE_COPY_SECONDS"), 10, 64)
		if err != nil {
			return fmt.Errorf("LIVE_COPY_SECONDS must be a number, not %q", os.Getenv("LIVE_COPY_SECONDS"))
		}
		problems, err := preflight.LiveSource(ctx, db, preflight.Live{DestinationServerID: serverID, CopySeconds: copySeconds,
			ClosesSessions: os.Getenv("LIVE_CLOSES_SESSIONS") == "true"})
		if err != nil {
			return fmt.Errorf("the preflight could not read the source's binary log settings: %v", err)
		}
		report.Problems = append(report.Problems, problems...)
	}
	// The method (METHOD: logical, physical or auto): what the source and this host allow.
	decision, problems, err := method(ctx, db, destination)
	if err != nil {
		return err
	}
	report.Problems = append(report.Problems, problems...)
	for _, warning := range report.Warnings {
		logf("warning: %s", warning)
	}
	for _, problem := range report.Problems {
		logf("refused: %s", problem)
	}
	if len(report.Problems) > 0 {
		return fmt.Errorf("the preflight found %d problem(s) (above); nothing was dumped or installed", len(report.Problems))
	}
	logf("preflight passed: %d database(s) can be dumped and imported as configured; method %s: %s", len(databases), decision.Method, decision.Reason)
	// The decision on stdout, for the graph (the dump's, the restore's and the import's METHOD).
	return json.NewEncoder(os.Stdout).Encode(decision)
}

// method decides METHOD (default logical) against the source and this host (preflight.Decide).
func method(ctx context.Context, db *sql.DB, destination preflight.Destination) (preflight.Decision, []string, error) {
	requested := os.Getenv("METHOD")
	switch requested {
	case "", preflight.Logical:
		decision, _ := preflight.Decide(preflight.Logical, destination, preflight.PhysicalFacts{})
		return decision, nil, nil
	case preflight.Physical, preflight.Auto:
	default:
		return preflight.Decision{}, nil, fmt.Errorf("METHOD must be logical, physical or auto, not %q (ferry:migration.method)", requested)
	}
	var toolVersion string
	if tool, err := exec.LookPath(firstOnPath("mariadb-backup", "mariabackup")); err == nil {
		// The tool says its version on stderr.
		out, _ := exec.CommandContext(ctx, tool, "--version").CombinedOutput()
		toolVersion = strings.TrimSpace(string(out))
	}
	facts, err := preflight.ReadPhysicalFacts(ctx, db, toolVersion)
	if err != nil {
		return preflight.Decision{}, nil, fmt.Errorf("the preflight could not read what a physical copy needs of the source: %v", err)
	}
	decision, problems := preflight.Decide(requested, destination, facts)
	return decision, problems, nil
}
