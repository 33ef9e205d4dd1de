// Package restore puts a physical copy (a run of method physical: mariadb-backup's mbstream in
// sealed chunks) into the destination server's data directory before the server starts: each
// chunk checked whole before a byte of it is used, unpacked (mbstream -x), prepared (mariadb-backup
// --prepare), then the destination's own account set and the run recorded in ferry.runs by a
// server started on it without networking, as the import records one. It never writes into a data
// directory that holds anything but what an unfinished restore of its own left.
package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry.local/dataplane/internal/child"
	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/follow"
	"ferry.local/dataplane/internal/load"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/objstore"
	"ferry.local/dataplane/internal/progress"
	"ferry.local/dataplane/internal/seal"
)

// Account is the destination's administrative account, set on the restored server: the copy
// brings the source's accounts, and the steps after the restore log in as this one.
type Account struct {
	User, Host, Password string
}

// Options are the restore's settings, read and checked by the caller.
type Options struct {
	RunKey   *seal.Key
	Manifest manifest.Manifest
	Store    *objstore.Store
	// DataDir is the destination server's data directory: empty (a lost+found aside), or holding
	// this run's restore, finished or not.
	DataDir string
	Account Account
	// Stack is the Pulumi stack the run's records name (ferry.run_stacks).
	Stack string
	// ServerUser is the system user the server started on the copy runs as ("" for none: the
	// restore's own user).
	ServerUser string
	// PrepareMemoryMiB is the memory the prepare may use to apply the copy's redo log (its
	// --use-memory); 0 leaves the tool's default (100 MiB).
	PrepareMemoryMiB int
	Patience         time.Duration
	Stall            time.Duration
	ProgressEvery    time.Duration
	// Tools: mbstream, mariadb-backup, mariadbd.
	StreamTool, BackupTool, ServerTool string
	// Follow, when set, starts the restore beside the dump instead of after it (Manifest is then
	// unset: it is waited for).
	Follow *Follow
	Log    func(format string, args ...any)
}

// Follow is a restore started beside the dump: it unpacks each chunk of the copy as the dump's
// index lists it, prepares the copy once the index says it is complete (proven at the digests'
// point, the digests still to read), and records the run only once the manifest, written last,
// names the very chunks it unpacked.
type Follow struct {
	Run follow.Run
	// Wait bounds the wait for the copy's index (or the manifest of a dump already complete);
	// ManifestWait the wait after it for the manifest (the digests' time).
	Wait, ManifestWait time.Duration
	Poll               time.Duration
	// expected is the copy's bytes as the index tells them so far, for progress lines.
	expected atomic.Int64
}

// unfinished marks a data directory the restore is writing; done, one it has written (with the
// run id in it), so that a pod started again finds its data and leaves it.
const (
	unfinished = ".ferry-restore-unfinished"
	done       = ".ferry-restored"
)

// Run restores the run into DataDir, or finds it restored already.
func Run(ctx context.Context, o Options) error {
	m := o.Manifest
	runID := m.RunID
	if o.Follow != nil {
		runID = o.Follow.Run.RunID
	}
	restored, err := o.prepareDataDir(runID)
	if err != nil || restored {
		return err
	}
	var index manifest.Index
	if o.Follow != nil {
		if m, index, err = o.Follow.await(ctx, o.Log); err != nil {
			return err
		}
	}
	// From the manifest, every chunk is known; beside the dump, they are as its index tells them.
	source, compression := o.Follow.chunksOf(&index), index.Compression
	if o.Follow != nil {
		o.Follow.expected.Store(expectedBytes(index))
	}
	total := func() int64 { return o.Follow.expected.Load() }
	if m.RunID != "" {
		if m.Method != manifest.Physical {
			return fmt.Errorf("run %s is a dump of SQL, not a physical copy: the import step takes it (ferry:migration.method logical)", m.RunID)
		}
		stream, _ := m.Stream(manifest.Physical)
		source, compression = chunks.Listed(stream.Chunks), m.Compression
		total = func() int64 { return stream.SQLBytes }
	}
	if err := os.WriteFile(filepath.Join(o.DataDir, unfinished), []byte(runID+"\n"), 0o600); err != nil {
		return err
	}
	o.Log("restoring run %s into %s", runID, o.DataDir)
	started := time.Now()
	if err := o.unpack(ctx, runID, source, compression, total); err != nil {
		return err
	}
	o.Log("unpacked in %.1fs; preparing (the copy's redo log applied)", time.Since(started).Seconds())
	prepared := time.Now()
	prepare := []string{"--prepare", "--target-dir=" + o.DataDir}
	if o.PrepareMemoryMiB > 0 {
		prepare = append(prepare, fmt.Sprintf("--use-memory=%dM", o.PrepareMemoryMiB))
	}
	if err := o.tool(ctx, o.BackupTool, prepare...); err != nil {
		return fmt.Errorf("preparing the copy failed: %v", err)
	}
	if m.RunID == "" {
		o.Log("prepared in %.1fs; waiting for the dump's manifest (it reads the digests after the copy)", time.Since(prepared).Seconds())
		if m, err = o.Follow.complete(ctx, index); err != nil {
			return err
		}
	}
	o.Log("prepared in %.1fs; setting the destination's account and recording the run", time.Since(prepared).Seconds())
	if err := o.keepBooks(ctx, m); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.DataDir, done), []byte(m.RunID+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(o.DataDir, unfinished)); err != nil {
		return err
	}
	opening, _ := seal.Spent()
	o.Log("restored run %s in %.1fs, every chunk's sha256 verified; opening the seals took %.2fs of CPU", m.RunID, time.Since(started).Seconds(), opening.Seconds())
	return nil
}

// prepareDataDir says whether the run is restored already; empties what an unfinished restore
// left; refuses a data directory holding anything else.
func (o Options) prepareDataDir(runID string) (bool, error) {
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return false, err
	}
	if finished, err := os.ReadFile(filepath.Join(o.DataDir, done)); err == nil {
		if strings.TrimSpace(string(finished)) == runID {
			o.Log("run %s is restored in %s already; nothing to do", runID, o.DataDir)
			return true, nil
		}
		return false, fmt.Errorf("%s holds the restore of run %s, not of run %s: the restore never writes over a database. Give the destination a new volume, or set ferry:migration.runId back to %s",
			o.DataDir, strings.TrimSpace(string(finished)), runID, strings.TrimSpace(string(finished)))
	}
	entries, err := os.ReadDir(o.DataDir)
	if err != nil {
		return false, err
	}
	var held []string
	for _, entry := range entries {
		if entry.Name() != "lost+found" {
			held = append(held, entry.Name())
		}
	}
	if len(held) == 0 {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(o.DataDir, unfinished)); err != nil {
		shown := held
		if len(shown) > 5 {
			shown = append(shown[:5:5], "...")
		}
		return false, fmt.Errorf("%s is not empty (it holds %s): a physical restore needs an empty volume and never writes over data. Give the destination a new volume, or set ferry:migration.method to logical to import into the server it holds",
			o.DataDir, strings.Join(shown, ", "))
	}
	o.Log("%s holds an unfinished restore (%d entries); starting it again", o.DataDir, len(held))
	for _, name := range held {
		if err := os.RemoveAll(filepath.Join(o.DataDir, name)); err != nil {
			return false, err
		}
	}
	return false, nil
}

// unpack writes the stream's chunks, each checked whole first, into mbstream -x.
func (o Options) unpack(ctx context.Context, runID string, source chunks.Source, compression string, total func() int64) error {
	work, err := os.MkdirTemp("", "ferry-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.StreamTool, "-x", "-C", o.DataDir)
	var stderr child.Tail
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %v", o.StreamTool, err)
	}
	fetcher := &chunks.Fetcher{Store: o.Store, RunID: runID, Compression: compression, Dir: work,
		Patience: o.Patience, Stall: o.Stall, RunKey: o.RunKey, Log: o.Log}
	unpacked := &countingWriter{w: stdin}
	started := time.Now()
	stopProgress := progress.Every(o.ProgressEvery, func() {
		done := unpacked.n.Load()
		o.Log("%s", progress.Line("restore", done, max(done, total()), started, "unpacked"))
	})
	_, fetchErr := fetcher.FetchFrom(ctx, source, unpacked)
	stopProgress()
	_ = stdin.Close()
	if fetchErr != nil {
		cancel()
	}
	waitErr := cmd.Wait()
	var damaged *chunks.DamagedError
	switch {
	case errors.As(fetchErr, &damaged):
		return fmt.Errorf("%v (nothing of the copy is used: the data directory stays marked unfinished)", fetchErr)
	case fetchErr != nil && waitErr != nil && !errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s failed (exit %d): %s", o.StreamTool, child.ExitStatus(waitErr), stderr.LastLines(3))
	case fetchErr != nil:
		return fetchErr
	case waitErr != nil:
		return fmt.Errorf("%s failed (exit %d): %s", o.StreamTool, child.ExitStatus(waitErr), stderr.LastLines(3))
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// tool runs one tool to its end, its last lines of output the error's.
func (o Options) tool(ctx context.Context, name string, args ...string) error {
	var output child.Tail
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s (exit %d): %s", name, child.ExitStatus(err), output.LastLines(3))
	}
	return nil
}

// keepBooks starts the server on the restored files, without networking and without reading its
// grant tables until it is told to (the copy's accounts are the source's), sets the destination's
// account, records the run, and shuts the server down.
func (o Options) keepBooks(ctx context.Context, m manifest.Manifest) error {
	work, err := os.MkdirTemp("", "ferry-restore-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	socket := filepath.Join(work, "mysqld.sock")
	args := []string{"--no-defaults", "--datadir=" + o.DataDir, "--socket=" + socket, "--skip-networking",
		"--skip-grant-tables", "--skip-log-bin", "--pid-file=" + filepath.Join(work, "mysqld.pid")}
	if o.ServerUser != "" {
		args = append(args, "--user="+o.ServerUser)
	}
	var output child.Tail
	server := exec.Command(o.ServerTool, args...)
	server.Stdout, server.Stderr = &output, &output
	if err := server.Start(); err != nil {
		return fmt.Errorf("cannot start %s on the restored files: %v", o.ServerTool, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = server.Process.Kill()
			<-exited
		}
	}()
	db, err := conn.OpenInterpolating(conn.Settings{Socket: socket, User: "root"})
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := db.PingContext(ctx)
		if err == nil {
			break
		}
		select {
		case waitErr := <-exited:
			stopped = true
			return fmt.Errorf("the server did not start on the restored files (%v): %s", waitErr, output.LastLines(3))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server started on the restored files did not answer within 2 minutes: %s", output.LastLines(3))
		}
	}
	if err := o.setAccount(ctx, db); err != nil {
		return err
	}
	if err := load.RecordRestored(ctx, db, m.RunID, load.Digest(m), o.Stack, m.Databases); err != nil {
		return fmt.Errorf("recording the run in ferry.runs: %v", err)
	}
	// Closed first, then stopped by its signal: a SHUTDOWN statement leaves the client writing to a
	// socket the server has closed.
	_ = db.Close()
	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping the server started on the restored files: %v", err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			return fmt.Errorf("the server started on the restored files stopped with %v: %s", err, output.LastLines(3))
		}
	case <-time.After(2 * time.Minute):
		return errors.New("the server started on the restored files did not shut down within 2 minutes")
	}
	return nil
}

// setAccount makes the destination's account what the destination's settings say, whatever the
// copy brought: the user, host and password are values the driver sends as escaped literals
// (OpenInterpolating), never text ferry puts into a statement.
func (o Options) setAccount(ctx context.Context, db *sql.DB) error {
	a := o.Account
	statements := []struct {
		text string
		args []any
	}{
		// The grant tables are read from here on: the statements below need them.
		{"FLUSH PRIVILEGES", nil},
		{"CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?", []any{a.User, a.Host, a.Password}},
		{"ALTER USER ?@? IDENTIFIED BY ? ACCOUNT UNLOCK", []any{a.User, a.Host, a.Password}},
		{"GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION", []any{a.User, a.Host}},
	}
	for _, s := range statements {
		if _, err := db.ExecContext(ctx, s.text, s.args...); err != nil {
			// A server's message may quote the statement, password and all: only its number is told.
			var refused *mysql.MySQLError
			if errors.As(err, &refused) {
				return fmt.Errorf("setting the destination's account on the restored server (%s) was refused: error %d", s.text, refused.Number)
			}
			return fmt.Errorf("setting the destination's account on the restored server (%s) failed: %v", s.text, err)
		}
	}
	return nil
}

// await waits for the copy to be stored: the manifest of a complete dump, or the index of a copy
// stored whose digests are being read. What does not open with the run's key under its label (a
// dump of an earlier key) is not this run's yet.
func (f *Follow) await(ctx context.Context, log func(string, ...any)) (manifest.Manifest, manifest.Index, error) {
	deadline := time.Now().Add(f.Wait)
	log("waiting up to %s for the dump of run %s to store its physical copy", f.Wait, f.Run.RunID)
	for {
		m, _, err := follow.ReadManifest(ctx, f.Run)
		if err == nil {
			return m, manifest.Index{}, nil
		}
		if !f.notYet(err) {
			return m, manifest.Index{}, fmt.Errorf("reading the manifest of run %s: %v", f.Run.RunID, err)
		}
		x, err := f.index(ctx)
		switch {
		case err == nil && x.Failed != "" && x.Complete:
			return m, x, fmt.Errorf("the dump of run %s failed after storing its copy: %s", f.Run.RunID, x.Failed)
		case err == nil && x.Failed != "":
			return m, x, fmt.Errorf("the dump of run %s failed while storing its copy: %s", f.Run.RunID, x.Failed)
		case err == nil:
			log("the dump is storing its copy; restoring it chunk by chunk as it is stored")
			return m, x, nil
		case !f.notYet(err):
			return m, x, fmt.Errorf("reading the copy's index of run %s: %v", f.Run.RunID, err)
		}
		if time.Now().After(deadline) {
			return m, x, fmt.Errorf("the dump of run %s stored no physical copy within %s: is it running, with ferry:migration.method physical?", f.Run.RunID, f.Wait)
		}
		if err := f.sleep(ctx); err != nil {
			return m, x, err
		}
	}
}

// complete waits for the manifest after the copy was restored from its index, and takes it only
// if it names the very chunks restored: the manifest is the only proof that the dump completed
// (and that its digests are of this copy).
func (f *Follow) complete(ctx context.Context, restored manifest.Index) (manifest.Manifest, error) {
	deadline := time.Now().Add(f.ManifestWait)
	for {
		m, _, err := follow.ReadManifest(ctx, f.Run)
		if err == nil {
			return m, sameCopy(m, restored)
		}
		if !f.notYet(err) {
			return m, fmt.Errorf("reading the manifest of run %s: %v", f.Run.RunID, err)
		}
		if x, err := f.index(ctx); err == nil && x.Failed != "" {
			return m, fmt.Errorf("the dump of run %s failed after storing its copy (%s): nothing restored is used, the data directory stays unfinished", f.Run.RunID, x.Failed)
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("the dump of run %s stored its copy but wrote no manifest within %s: nothing restored is used, the data directory stays unfinished. Run pulumi up again", f.Run.RunID, f.ManifestWait)
		}
		if err := f.sleep(ctx); err != nil {
			return m, err
		}
	}
}

// sameCopy says whether the manifest is of the copy restored: a physical copy's, listing the same
// chunks (objects, sizes and sha256) in the same order.
func sameCopy(m manifest.Manifest, restored manifest.Index) error {
	stream, ok := m.Stream(manifest.Physical)
	if m.Method != manifest.Physical || !ok {
		return fmt.Errorf("the manifest of run %s is not of a physical copy: the copy restored from its index is not used", m.RunID)
	}
	same := len(stream.Chunks) == len(restored.Chunks)
	for i := 0; same && i < len(stream.Chunks); i++ {
		same = stream.Chunks[i] == restored.Chunks[i]
	}
	if !same {
		return fmt.Errorf("the manifest of run %s names other chunks than the copy's index the restore followed (a dump of the run ran again meanwhile): nothing restored is used, the data directory stays unfinished. Run pulumi up again", m.RunID)
	}
	return nil
}

// chunksOf tells the copy's chunks as the dump's index lists them, re-reading it until it lists
// chunk i or says the copy is complete (then it is *index); nil when the restore does not follow.
func (f *Follow) chunksOf(index *manifest.Index) chunks.Source {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, i int) (manifest.Chunk, bool, error) {
		deadline := time.Now().Add(f.Wait)
		for {
			if i < len(index.Chunks) {
				return index.Chunks[i], true, nil
			}
			if index.Complete {
				return manifest.Chunk{}, false, nil
			}
			x, err := f.index(ctx)
			switch {
			case err == nil && x.Failed != "":
				return manifest.Chunk{}, false, fmt.Errorf("the dump of run %s failed while storing its copy (%s): nothing restored is used, the data directory stays unfinished", f.Run.RunID, x.Failed)
			case err == nil && !extends(x, *index):
				return manifest.Chunk{}, false, fmt.Errorf("the copy's index of run %s no longer lists the chunks restored so far (a dump of the run began again): nothing restored is used, the data directory stays unfinished. Run pulumi up again", f.Run.RunID)
			case err == nil && (len(x.Chunks) > len(index.Chunks) || x.Complete):
				*index = x
				f.expected.Store(expectedBytes(x))
				deadline = time.Now().Add(f.Wait)
				continue
			case err != nil && !f.notYet(err):
				return manifest.Chunk{}, false, fmt.Errorf("reading the copy's index of run %s: %v", f.Run.RunID, err)
			}
			if time.Now().After(deadline) {
				return manifest.Chunk{}, false, fmt.Errorf("the dump of run %s stored no more of its copy for %s: nothing restored is used, the data directory stays unfinished", f.Run.RunID, f.Wait)
			}
			if err := f.sleep(ctx); err != nil {
				return manifest.Chunk{}, false, err
			}
		}
	}
}

// extends says whether index lists every chunk earlier lists, in the same order, and more or as
// many.
func extends(index, earlier manifest.Index) bool {
	if len(index.Chunks) < len(earlier.Chunks) {
		return false
	}
	for i, c := range earlier.Chunks {
		if index.Chunks[i] != c {
			return false
		}
	}
	return true
}

// expectedBytes is the copy's size before compression as index tells it: the chunks' own once it
// is complete, until then the dump's estimate or what is listed, the larger.
func expectedBytes(index manifest.Index) int64 {
	listed := manifest.NewStream(manifest.Physical, index.Chunks).SQLBytes
	if index.Complete {
		return listed
	}
	return max(listed, index.EstimatedBytes)
}

func (f *Follow) index(ctx context.Context) (manifest.Index, error) {
	return follow.ReadIndex(ctx, f.Run.Store, f.Run.RunKey, f.Run.RunID, manifest.Physical, "")
}

// notYet: what was read is not there yet, or not this run's yet.
func (f *Follow) notYet(err error) bool { return f.Run.Missing(err) || follow.IsRefusal(err) }

func (f *Follow) sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(f.Poll):
		return nil
	}
}
