package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/dump"
	"ferry.local/dataplane/internal/follow"
	"ferry.local/dataplane/internal/load"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
	"ferry.local/dataplane/internal/seal"
	"ferry.local/dataplane/internal/secret"
	"ferry.local/dataplane/internal/verify"
)

// runIDPattern is the one rule of ferry:migration.runId (runIdPattern in components/config.ts),
// checked again here because the data plane also runs on its own.
var runIDPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

func runID() (string, error) {
	id := os.Getenv("RUN_ID")
	if !runIDPattern.MatchString(id) {
		return "", fmt.Errorf("RUN_ID '%s' must be lowercase letters, digits and inner dashes, at most 40 characters (ferry:migration.runId)", id)
	}
	return id, nil
}

// databaseList reads DATABASES: a JSON array of names (what ferry passes: a name may hold any
// character MySQL allows, spaces and quotes included), or names separated by spaces (by hand).
func databaseList(text string) ([]string, error) {
	var names []string
	if strings.HasPrefix(strings.TrimSpace(text), "[") {
		if err := json.Unmarshal([]byte(text), &names); err != nil {
			return nil, fmt.Errorf("DATABASES is not a JSON array of names: %v", err)
		}
	} else {
		names = strings.Fields(text)
	}
	if len(names) == 0 {
		return nil, errors.New("environment variable DATABASES is not set (ferry:source.databases)")
	}
	for _, name := range names {
		if name == "" || strings.ContainsRune(name, 0) {
			return nil, fmt.Errorf("DATABASES holds a name MySQL cannot have: %q", name)
		}
	}
	return names, nil
}

// runKeyFromEnvironment reads the run's key from the file named by RUN_KEY_FILE or else RUN_KEY
// (then removed from the environment, so no child process inherits it). Every step needs it: the
// bucket is untrusted transit, so nothing is stored unsealed and nothing unsealed is read.
func runKeyFromEnvironment() (*seal.Key, error) {
	text, err := secret.FromEnvironment("RUN_KEY")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("no run key: RUN_KEY (or RUN_KEY_FILE) must hold the run's key, 64 hex digits. ferry's program makes one per run id and keeps it as a Pulumi secret; by hand, make one with `openssl rand -hex 32` and give the same to every step of the run")
	}
	key, err := seal.ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("RUN_KEY: %v", err)
	}
	return &key, nil
}

func wholeNumber(name string, fallback, lowest, highest int) (int, error) {
	text := os.Getenv(name)
	if text == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < lowest || n > highest {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d, not '%s'", name, lowest, highest, text)
	}
	return n, nil
}

func seconds(name string, fallback int) (time.Duration, error) {
	n, err := wholeNumber(name, fallback, 1, 86400)
	return time.Duration(n) * time.Second, err
}

// The MariaDB tools are preferred when both are installed; both speak to either server.
func dumpTool() string { return firstOnPath("mariadb-dump", "mysqldump") }

func clientTool() string { return firstOnPath("mariadb", "mysql") }

func firstOnPath(tools ...string) string {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err == nil {
			return tool
		}
	}
	return tools[0]
}

func runDump(ctx context.Context) error {
	id, err := runID()
	if err != nil {
		return err
	}
	databases, err := databaseList(os.Getenv("DATABASES"))
	if err != nil {
		return err
	}
	parallelism, err := wholeNumber("PARALLELISM", 2, 1, 16)
	if err != nil {
		return fmt.Errorf("%v (ferry:migration.parallelism)", err)
	}
	compression := os.Getenv("COMPRESSION")
	if compression == "" {
		compression = "zstd"
	}
	if _, err := chunks.Extension(compression); err != nil {
		return err
	}
	chunkMiB, err := wholeNumber("CHUNK_MIB", 32, 1, 4096)
	if err != nil {
		return err
	}
	every, err := seconds("PROGRESS_SECONDS", 10)
	if err != nil {
		return err
	}
	snapshotWait, err := seconds("SNAPSHOT_WAIT_SECONDS", 120)
	if err != nil {
		return err
	}
	sourceWait, err := seconds("SOURCE_WAIT_SECONDS", 30)
	if err != nil {
		return err
	}
	stall, err := seconds("STALL_SECONDS", int(chunks.DefaultStall.Seconds()))
	if err != nil {
		return err
	}
	source, err := conn.FromEnvironment("SOURCE")
	if err != nil {
		return err
	}
	key, err := runKeyFromEnvironment()
	if err != nil {
		return err
	}
	store, err := objstore.FromEnvironment()
	if err != nil {
		return err
	}
	var physical bool
	switch method := os.Getenv("METHOD"); method {
	case "", "logical":
	case "physical":
		physical = true
	default:
		return fmt.Errorf("METHOD must be logical or physical, not %q (ferry:migration.method)", method)
	}
	post(store, key, id, "dump")
	m, err := dump.Run(ctx, dump.Options{RunKey: key, RunID: id, Databases: databases, Compression: compression,
		Parallelism: parallelism, ChunkBytes: int64(chunkMiB) << 20, ProgressEvery: every,
		SnapshotWait: snapshotWait, SourceWait: sourceWait, Stall: stall, Source: source, Store: store,
		DumpTool: dumpTool(), Physical: physical, BackupTool: firstOnPath("mariadb-backup", "mariabackup"), Log: logf})
	if err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(data)
	return err
}

// loadManifest reads the run's manifest from the store. The dump writes it last, so its absence
// means no complete dump.
func loadManifest(ctx context.Context, store *objstore.Store, key *seal.Key, id string) (manifest.Manifest, []byte, error) {
	m, data, err := follow.ReadManifest(ctx, storedRun(store, key, id))
	switch {
	case objstore.IsNotFound(err):
		return manifest.Manifest{}, nil, fmt.Errorf("no manifest at %s: the dump of run %s never completed (a failed or killed dump leaves none). Run the dump again, or set ferry:migration.runId to a run whose dump completed.", store.URL(manifest.Key(id)), id)
	case err != nil && !follow.IsRefusal(err):
		return manifest.Manifest{}, nil, fmt.Errorf("cannot read the manifest of run %s from the object store: %v", id, err)
	}
	return m, data, err
}

// storedRun is the run as package follow reads it.
func storedRun(store *objstore.Store, key *seal.Key, id string) follow.Run {
	return follow.Run{Store: store, RunKey: *key, RunID: id, Missing: objstore.IsNotFound, Lasting: objstore.Lasting}
}

// run is one finished run as the later steps see it: its bucket, key and manifest.
type run struct {
	store    *objstore.Store
	key      *seal.Key
	manifest manifest.Manifest
	// plain is the manifest's text, as the report prints it.
	plain []byte
}

// runStore reads which run a step is of, the run's key and its object store, from the
// environment.
func runStore() (string, *seal.Key, *objstore.Store, error) {
	id, err := runID()
	if err != nil {
		return "", nil, nil, err
	}
	key, err := runKeyFromEnvironment()
	if err != nil {
		return "", nil, nil, err
	}
	store, err := objstore.FromEnvironment()
	return id, key, store, err
}

func openRun(ctx context.Context, logName string) (run, error) {
	id, key, store, err := runStore()
	if err != nil {
		return run{}, err
	}
	if logName != "" {
		post(store, key, id, logName)
	}
	m, plain, err := loadManifest(ctx, store, key, id)
	return run{store, key, m, plain}, err
}

// downloadSettings are what a step that downloads the run's chunks is told: how long a broken
// download is resumed (DOWNLOAD_PATIENCE_SECONDS), how long one may receive nothing
// (STALL_SECONDS), how often progress is said (PROGRESS_SECONDS).
func downloadSettings() (patience, stall, every time.Duration, err error) {
	if patience, err = seconds("DOWNLOAD_PATIENCE_SECONDS", int(chunks.DefaultPatience.Seconds())); err != nil {
		return
	}
	if stall, err = seconds("STALL_SECONDS", int(chunks.DefaultDownloadStall.Seconds())); err != nil {
		return
	}
	every, err = seconds("PROGRESS_SECONDS", 10)
	return
}

// runImport imports the run's dump into the destination (package load): a complete one, or with
// FOLLOW_DUMP=true one that is still running, which the import follows as it stores its chunks
// (package follow), waiting up to FOLLOW_WAIT_SECONDS for it to begin.
func runImport(ctx context.Context) error {
	wait, err := seconds("WAIT_SECONDS", 600)
	if err != nil {
		return err
	}
	patience, stall, every, err := downloadSettings()
	if err != nil {
		return err
	}
	destination, err := conn.FromEnvironment("DEST")
	if err != nil {
		return err
	}
	id, key, store, err := runStore()
	if err != nil {
		return err
	}
	post(store, key, id, "import")
	var settings []load.Setting
	if os.Getenv("TUNE_IMPORT") == "true" {
		settings = load.ImportSettings
	}
	options := load.Options{RunKey: key, Overwrite: os.Getenv("OVERWRITE") == "true", Stack: os.Getenv("FERRY_STACK"), Settings: settings,
		Rewrite:     load.Rewrite{StripDefiners: os.Getenv("STRIP_DEFINERS") == "true", DeferIndexes: true},
		WriteBinlog: os.Getenv("WRITE_BINLOG") == "true", Wait: wait, Patience: patience, Stall: stall,
		ProgressEvery: every, Destination: destination, Store: store, Client: clientTool(), Log: logf}
	// A physical copy is restored before the destination's server starts, which is after its
	// manifest: there is nothing to follow.
	if os.Getenv("FOLLOW_DUMP") != "true" || os.Getenv("METHOD") == "physical" {
		if options.Manifest, _, err = loadManifest(ctx, store, key, id); err != nil {
			return err
		}
		return load.Run(ctx, options)
	}
	found, err := awaitDump(ctx, storedRun(store, key, id))
	if err != nil {
		return err
	}
	if found.Attempt.ID == "" {
		// The dump was complete before the import looked.
		options.Manifest = found.Manifest
	} else {
		options.Follow = &found.Follow
	}
	return load.Run(ctx, options)
}

// followed is what the import found of the dump it is to follow: a running attempt, or the
// manifest of a complete dump.
type followed struct {
	load.Follow
	Manifest manifest.Manifest
}

// awaitDump waits for the run's dump to run or be complete (follow.Await).
func awaitDump(ctx context.Context, r follow.Run) (followed, error) {
	wait, err := seconds("FOLLOW_WAIT_SECONDS", 600)
	if err != nil {
		return followed{}, err
	}
	poll, err := seconds("FOLLOW_POLL_SECONDS", 1)
	if err != nil {
		return followed{}, err
	}
	stall, err := seconds("FOLLOW_STALL_SECONDS", 900)
	if err != nil {
		return followed{}, err
	}
	afterFailed, err := seconds("FOLLOW_AFTER_FAILED_SECONDS", 60)
	if err != nil {
		return followed{}, err
	}
	begun, err := follow.Await(ctx, r, follow.Patience{Wait: wait, AfterFailed: afterFailed, Stall: stall, Poll: poll}, logf)
	switch {
	case err != nil:
		return followed{}, err
	case begun.Manifest != nil:
		return followed{Manifest: *begun.Manifest}, nil
	}
	logf("following attempt %s of the dump of run %s (begun %s) as it stores its chunks", begun.Attempt.ID, r.RunID, begun.Attempt.StartedAt)
	return followed{Follow: load.Follow{Run: r, Attempt: begun.Attempt, Poll: poll, Stall: stall}}, nil
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
	r, err := openRun(ctx, "")
	if err != nil {
		return err
	}
	m := r.manifest
	db, err := conn.OpenFromEnvironment("DEST")
	if err != nil {
		return err
	}
	defer db.Close()
	var state sql.NullString
	err = db.QueryRowContext(ctx, "SELECT state FROM ferry.runs WHERE run_id = ?", m.RunID).Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "doesn't exist") {
		return errors.New(conn.Explain(err, "the destination database", "ferry:destination"))
	}
	if state.String == load.StateReplicating || state.String == load.StateCutOver {
		// Live mode: verified before the replication began; the data has moved on from the dump.
		logf("run %s was verified before its replication began (state: %s); nothing to do", m.RunID, state.String)
		return nil
	}
	if state.String != "imported" {
		return fmt.Errorf("run %s was not imported (state: %s); the import step must succeed first", m.RunID, orNone(state.String))
	}
	sessions, err := conn.OpenSnapshots(ctx, db, max(1, m.DataStreams()), nil)
	defer conn.CloseAll(sessions)
	if err != nil {
		return errors.New(conn.Explain(err, "the destination database", "ferry:destination"))
	}
	logf("digesting %d objects of %s on the destination in %d sessions", len(m.Digests), strings.Join(m.Databases, " "), len(sessions))
	actual, err := digest.Catalog(ctx, sessions[0], m.Databases)
	if err != nil {
		return err
	}
	rowKey, err := digest.RowKeyFrom(*r.key)
	if err != nil {
		return err
	}
	if err := digest.Contents(ctx, rowKey, sessions, actual, digest.Progress(logf, actual)); err != nil {
		return err
	}
	mismatches := verify.Compare(m.Digests, actual)
	result := Result{RunID: m.RunID, OK: len(mismatches) == 0, Objects: len(m.Digests),
		MismatchedTables: len(mismatches), Mismatches: mismatches,
		VerifiedAt: utcNow()}
	if result.Mismatches == nil {
		result.Mismatches = []verify.Mismatch{}
	}
	for _, o := range m.Digests {
		if o.Kind == digest.Table {
			result.Tables++
			result.Rows += o.Rows
		}
	}
	// The result is stored whichever way it went: the report shows it, the cleanup reads it.
	data, err := storeSealed(ctx, r, manifest.VerificationKey(m.RunID), "verification result", result)
	if err != nil {
		return err
	}
	for _, mismatch := range mismatches {
		logf("differs: %s: %s", mismatch.Object, mismatch.Problem)
	}
	if !result.OK {
		return fmt.Errorf("verification failed: %d of %d objects differ from the dump of run %s (details above)", len(mismatches), len(m.Digests), m.RunID)
	}
	logf("verified: all %d objects, %d tables (%d rows), match the dump of run %s", len(m.Digests), result.Tables, result.Rows, m.RunID)
	_, err = os.Stdout.Write(data)
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// readVerification is the stored result of the run's verification, or nil when there is none.
func readVerification(ctx context.Context, r run) (*Result, []byte, error) {
	return readSealed[Result](ctx, r, manifest.VerificationKey(r.manifest.RunID), "verification result")
}

// runCleanup removes the run's chunks once verification has passed, unless KEEP_DUMP. The small
// manifest, verification result and live record stay as the run's record until the bucket's expiry rule
// removes them.
func runCleanup(ctx context.Context) error {
	r, err := openRun(ctx, "")
	if err != nil {
		return err
	}
	store, m := r.store, r.manifest
	result, _, err := readVerification(ctx, r)
	if err != nil {
		return err
	}
	if result == nil {
		return fmt.Errorf("run %s has no verification result; the dump is kept", m.RunID)
	}
	if !result.OK {
		return fmt.Errorf("run %s did not pass verification; the dump is kept for inspection", m.RunID)
	}
	prefix := store.URL(manifest.Prefix(m.RunID))
	if os.Getenv("KEEP_DUMP") == "true" {
		logf("keeping the %d dump objects under %s (ferry:migration.keepDump is true)", len(m.Objects()), prefix)
		return nil
	}
	// Everything under the run's prefix but its record: the manifest's chunks, and whatever an
	// earlier, failed dump of the run left (the dump's credential cannot delete).
	stored, err := store.Keys(ctx, manifest.Prefix(m.RunID))
	if err != nil {
		return fmt.Errorf("cannot list %s: %v", prefix, err)
	}
	removed := 0
	for _, key := range stored {
		if key == manifest.Key(m.RunID) || key == manifest.VerificationKey(m.RunID) || key == manifest.LiveKey(m.RunID) {
			continue
		}
		if err := store.Remove(ctx, key); err != nil {
			return fmt.Errorf("cannot remove %s: %v", store.URL(key), err)
		}
		removed++
	}
	logf("removed %d dump objects under %s; the manifest and verification result remain", removed, prefix)
	return nil
}

// runReport prints the run's record: its manifest, its verification result and live mode's record
// (each null when there is none) and how many of its chunks are still stored (read, not inferred: only the cleanup removes
// them).
func runReport(ctx context.Context) error {
	r, err := openRun(ctx, "")
	if err != nil {
		return err
	}
	store, m, manifestData := r.store, r.manifest, r.plain
	_, verification, err := readVerification(ctx, r)
	if err != nil {
		return err
	}
	if verification == nil {
		verification = []byte("null")
	}
	_, live, err := readLiveRecord(ctx, r)
	if err != nil {
		return err
	}
	if live == nil {
		live = []byte("null")
	}
	present := 0
	for _, key := range m.Objects() {
		found, err := store.Exists(ctx, key)
		if err != nil {
			return fmt.Errorf("cannot look for %s: %v", store.URL(key), err)
		}
		if found {
			present++
		}
	}
	record := struct {
		Manifest           json.RawMessage `json:"manifest"`
		Verification       json.RawMessage `json:"verification"`
		Live               json.RawMessage `json:"live"`
		DumpObjectsPresent int             `json:"dumpObjectsPresent"`
	}{manifestData, verification, live, present}
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(data, '\n'))
	return err
}

// runRevoke turns off the run's bucket users (USERS, a JSON array of names) with the object
// store's admin credentials: once the run is reported, or as soon as a step fails, no credential
// a step held opens the bucket any more. Every user is tried; the error names each one still on.
func runRevoke(ctx context.Context) error {
	return setBucketUsers(ctx, false)
}

// runGrant turns on the run's bucket users (USERS) that a step about to run needs: they are off
// at rest (turned off once their policy is attached), and off again once no running step uses
// them, whether it succeeded or failed.
func runGrant(ctx context.Context) error {
	return setBucketUsers(ctx, true)
}

func setBucketUsers(ctx context.Context, enabled bool) error {
	state, verb := "off", "turned off"
	if enabled {
		state, verb = "on", "turned on"
	}
	var users []string
	if err := json.Unmarshal([]byte(os.Getenv("USERS")), &users); err != nil || len(users) == 0 {
		return fmt.Errorf("USERS must be a JSON array of the bucket users to turn %s, not %q", state, os.Getenv("USERS"))
	}
	admin, err := objstore.AdminFromEnvironment()
	if err != nil {
		return err
	}
	var failed []string
	for _, user := range users {
		if err := admin.SetUserEnabled(ctx, user, enabled); err != nil {
			logf("%v", err)
			failed = append(failed, user)
			continue
		}
		logf("%s bucket user %s", verb, user)
	}
	if len(failed) == 0 {
		return nil
	}
	if enabled {
		return fmt.Errorf("bucket users %s are still off; check the object store's admin credentials (ferry:objectStore.accessKey, ferry:objectStoreSecretKey) and run pulumi up again", strings.Join(failed, ", "))
	}
	return fmt.Errorf("bucket users %s are still on; turn them off with the object store's admin tools (mc admin user disable), or run pulumi up again", strings.Join(failed, ", "))
}
