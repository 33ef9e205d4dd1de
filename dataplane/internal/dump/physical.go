package dump

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"ferry.local/dataplane/internal/child"
	"ferry.local/dataplane/internal/chunks"
	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/heldlock"
	"ferry.local/dataplane/internal/manifest"
	"ferry.local/dataplane/internal/progress"
	"ferry.local/dataplane/internal/seal"
)

// The physical method: mariadb-backup copies the source server's data files while it runs, as an
// mbstream on its stdout, cut into sealed chunks like a dump's SQL; the destination restores them
// (package restore) instead of importing.
//
// The verification still compares every object's digest, so the digests must describe exactly the
// rows the copy holds. mariadb-backup's copy is consistent at one point: under BACKUP STAGE
// BLOCK_COMMIT, where it reads the binary log position. When it says it holds that stage, ferry
// stops it (SIGSTOP), opens the digests' snapshots while no transaction can commit, reads the
// position they see, and lets it go on. The copy then records its own position; the two must be
// equal, or the digests are of another point (ferry stopped it late) and the backup is refused. The
// position is only a proof with the binary log on, so the physical method needs it.

// blockCommitHeld is the line mariadb-backup writes once it holds BACKUP STAGE BLOCK_COMMIT.
const blockCommitHeld = "Acquired locks for BACKUP STAGE BLOCK_COMMIT"

// backupPosition is mariadb-backup's line with the binary log position its copy is consistent at.
var backupPosition = regexp.MustCompile(`MySQL binlog position: filename '([^']*)', position '([0-9]+)'(?:, GTID of the last change '([^']*)')?`)

// pointOfCopy is what the digests' snapshots saw at the backup's consistent point.
type pointOfCopy struct {
	sessions  []*sql.Conn
	objects   []digest.Object
	tableLock *heldlock.Lock
	file      string
	position  string
	gtid      string
	held      time.Duration
	err       error
}

func (d *dumper) backup(ctx context.Context, m manifest.Manifest) (manifest.Manifest, error) {
	m.Method = manifest.Physical
	var logBin int
	if err := d.db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin").Scan(&logBin); err != nil {
		return m, err
	}
	if logBin != 1 {
		return m, errors.New("the physical method needs the source's binary log (log_bin): its position is what proves the verification's digests were taken at the copy's point. Turn log_bin on, or set ferry:migration.method to logical")
	}
	version, err := exec.CommandContext(ctx, d.BackupTool, "--version").CombinedOutput()
	if err != nil {
		return m, fmt.Errorf("the backup tool %s cannot run (%v): the physical method needs mariadb-backup of the source server's version on the source host", d.BackupTool, err)
	}
	m.DumpTool = strings.TrimSpace(strings.SplitN(string(version), "\n", 2)[0])
	others, err := d.otherDatabases(ctx)
	if err != nil {
		return m, err
	}
	if len(others) > 0 {
		d.Log("a physical copy carries the whole server: databases %s, not in ferry:source.databases, come along too and are not verified", strings.Join(others, ", "))
	}
	options := filepath.Join(d.work, "source.cnf")
	text, err := conn.ClientOptions(d.Source, conn.FlavorOf(m.ServerVersion))
	if err != nil {
		return m, fmt.Errorf("SOURCE: %w", err)
	}
	if err := os.WriteFile(options, []byte(text), 0o600); err != nil {
		return m, err
	}
	estimate, basis, err := d.copyEstimate(ctx)
	if err != nil {
		return m, err
	}

	ext, err := chunks.Extension(d.Compression)
	if err != nil {
		return m, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.cancel = cancel
	writer, err := chunks.NewWriter(ctx, recordingStore{d}, d.Compression, d.ChunkBytes, d.Stall, d.RunKey, func(i int) string {
		return fmt.Sprintf("%s%s/%06d.mbstream.%s", manifest.Prefix(d.RunID), manifest.Physical, i, ext)
		// The copy's one stream compresses on every core: it is the step's work.
	}, chunks.CutAnywhere(), chunks.Threads(runtime.NumCPU()))
	if err != nil {
		return m, d.uploadFailure(err)
	}
	// A restore beside the copy unpacks each chunk once the index lists it; only a complete index
	// (the copy proven) ends its stream, and only the manifest lets it record the run.
	writer.Stored = func(stored []manifest.Chunk, _ int64) error {
		return d.storeCopyIndex(ctx, manifest.Index{Format: manifest.AttemptFormat, Stream: manifest.Physical,
			Chunks: append([]manifest.Chunk(nil), stored...), Compression: d.Compression, EstimatedBytes: estimate})
	}
	// --defaults-file must come first; the password is in it and nowhere else.
	cmd := exec.CommandContext(ctx, d.BackupTool, "--defaults-file="+options, "--backup", "--stream=mbstream",
		"--target-dir="+filepath.Join(d.work, "backup"), fmt.Sprintf("--parallel=%d", d.Parallelism))
	cmd.Env = os.Environ()
	// Stopped under BLOCK_COMMIT, the tool holds every commit of the source: if ferry dies, the
	// tool dies with it, and its session's stage with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return m, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return m, err
	}
	rowKey, err := digest.RowKeyFrom(*d.RunKey)
	if err != nil {
		writer.Abort(err)
		return m, err
	}
	early := d.startEarlyDigests(ctx, rowKey)
	if early != nil {
		defer early.close()
	}
	d.Log("copying the source server's data files with %s to s3://%s/%s%s/ (%s)", m.DumpTool, d.Store.Bucket, manifest.Prefix(d.RunID), manifest.Physical, d.Compression)
	started := time.Now()
	if err := cmd.Start(); err != nil {
		writer.Abort(err)
		return m, fmt.Errorf("cannot start %s: %v", d.BackupTool, err)
	}
	var tail child.Tail
	var point *pointOfCopy
	var copied [3]string
	var lines sync.WaitGroup
	lines.Add(1)
	go func() {
		defer lines.Done()
		scanner := bufio.NewScanner(stderr)
		scanner.Buffer(make([]byte, 64<<10), 1<<20)
		for scanner.Scan() {
			line := scanner.Text()
			_, _ = tail.Write([]byte(line + "\n"))
			if point == nil && strings.Contains(line, blockCommitHeld) {
				point = d.takePoint(ctx, cmd.Process)
			}
			if found := backupPosition.FindStringSubmatch(line); found != nil {
				copy(copied[:], found[1:])
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	stopProgress := progress.Every(d.ProgressEvery, func() {
		d.Log("%s", progress.Line("backup", writer.SQL.Load(), max(estimate, writer.SQL.Load()), started, basis))
	})
	_, copyErr := io.Copy(writer, stdout)
	if copyErr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, stdout)
	}
	lines.Wait()
	waitErr := cmd.Wait()
	stopProgress()
	if point != nil {
		defer conn.CloseAll(point.sessions)
		if point.tableLock != nil {
			defer point.tableLock.Release()
		}
	}
	var upload *chunks.UploadError
	switch {
	case errors.As(copyErr, &upload):
		writer.Abort(copyErr)
		return m, d.uploadFailure(copyErr)
	case copyErr != nil:
		writer.Abort(copyErr)
		return m, fmt.Errorf("the physical copy's stream failed: %v", copyErr)
	case waitErr != nil:
		writer.Abort(waitErr)
		return m, fmt.Errorf("%s failed (exit %d): %s", d.BackupTool, child.ExitStatus(waitErr), tail.LastLines(3))
	case point == nil:
		writer.Abort(errors.New("no consistent point"))
		return m, fmt.Errorf("%s never said it held BACKUP STAGE BLOCK_COMMIT (%q), so ferry could not take the digests at its copy's point; this version of the tool is not one ferry knows: set ferry:migration.method to logical", d.BackupTool, blockCommitHeld)
	case point.err != nil:
		writer.Abort(point.err)
		return m, point.err
	}
	stored, err := writer.Close()
	if err != nil {
		return m, d.uploadFailure(err)
	}
	if err := sameCopyPoint(copied, point, d.BackupTool); err != nil {
		return m, err
	}
	m.BinlogFile, m.BinlogPosition, m.GTID = point.file, point.position, point.gtid
	d.Log("the copy is consistent at binlog %s %s (gtid %s), where the digests' snapshots are; commits on the source waited %dms for them to open", m.BinlogFile, m.BinlogPosition, orNone(m.GTID, "none"), point.held.Milliseconds())
	m.Streams = []manifest.Stream{manifest.NewStream(manifest.Physical, stored)}
	m.Bytes, m.SQLBytes = m.Streams[0].Bytes, m.Streams[0].SQLBytes
	// The copy is whole and proven: a restore beside it prepares it while the digests are read;
	// only the manifest, written last, lets it record the run.
	if err := d.storeCopyIndex(ctx, manifest.Index{Format: manifest.AttemptFormat, Stream: manifest.Physical,
		Chunks: stored, Compression: d.Compression, Complete: true}); err != nil {
		return m, d.uploadFailure(err)
	}
	d.Log("data files stored (%d bytes in %d chunks, %.1fs)", m.SQLBytes, len(stored), time.Since(started).Seconds())
	if err := d.digestAtPoint(ctx, rowKey, point, early); err != nil {
		return m, fmt.Errorf("digesting the source's objects failed: %v", err)
	}
	if point.tableLock != nil {
		if err := point.tableLock.Confirm(ctx); err != nil {
			return m, fmt.Errorf("the tables without transactions may have changed during the copy: %v. Run pulumi up again", err)
		}
		point.tableLock.Release()
	}
	m.SetDigests(point.objects)
	if err := d.firstFailure(); err != nil {
		return m, err
	}
	if err := d.storeManifest(ctx, &m, "copy"); err != nil {
		return m, err
	}
	sealing, _ := seal.Spent()
	d.Log("done: %d tables digested, the server's data files (%d bytes) stored in %d chunks; sealing them took %.2fs of CPU", m.TableCount, m.Bytes, len(stored), sealing.Seconds())
	return m, nil
}

// digestAtPoint fills in the contents of the objects at the copy's point: the digests read beside
// the copy where they describe it, the rest read now in the point's snapshots.
func (d *dumper) digestAtPoint(ctx context.Context, rowKey digest.RowKey, point *pointOfCopy, early *earlyDigests) error {
	adopted := map[string]bool{}
	if early != nil {
		adopted = early.adopt(point, d.Log)
	}
	if len(adopted) > 0 {
		d.Log("the digests of %d table(s) read beside the copy are the copy's: its point is their snapshots' (binlog %s %s)", len(adopted), point.file, point.position)
	}
	var rest []digest.Object
	for _, o := range point.objects {
		if o.HasContent() && !adopted[o.Key()] {
			rest = append(rest, o)
		}
	}
	if len(rest) > 0 {
		d.Log("digesting %d table(s) and sequence(s) at the copy's point", len(rest))
	}
	if err := digest.Contents(ctx, rowKey, point.sessions, rest, digest.Progress(d.Log, rest)); err != nil {
		return err
	}
	read := make(map[string]digest.Object, len(rest))
	for _, o := range rest {
		read[o.Key()] = o
	}
	for i := range point.objects {
		if o, found := read[point.objects[i].Key()]; found {
			point.objects[i].Rows, point.objects[i].Content = o.Rows, o.Content
		}
	}
	return nil
}

// storeCopyIndex states the copy's chunks stored so far (manifest.Index).
func (d *dumper) storeCopyIndex(ctx context.Context, index manifest.Index) error {
	if err := d.putIndex(ctx, manifest.Physical, index); err != nil {
		return err
	}
	d.indexMu.Lock()
	d.copyIndex, d.copyIndexed = index, true
	d.indexMu.Unlock()
	return nil
}

// sameCopyPoint is the proof that the digests describe the copy: the copy is consistent at the
// binary log position (file, position; copied as the tool said them) the digests' snapshots saw.
func sameCopyPoint(copied [3]string, point *pointOfCopy, tool string) error {
	if copied[0] == point.file && copied[1] == point.position {
		return nil
	}
	return fmt.Errorf("the source committed between the physical copy's point (binlog %s %s) and the verification's snapshot of it (binlog %s %s): ferry stopped %s too late to take its digests there, so this copy cannot be verified and is not kept. Run pulumi up again",
		orNone(copied[0], "unknown"), orNone(copied[1], "unknown"), point.file, point.position, tool)
}

// takePoint runs while the backup tool holds BACKUP STAGE BLOCK_COMMIT: it stops the tool, opens
// the digests' snapshots, reads their binary log position and the catalog, read-locks the tables
// without transactions (the snapshots do not hold them), and lets the tool go on.
func (d *dumper) takePoint(ctx context.Context, tool *os.Process) *pointOfCopy {
	point := &pointOfCopy{}
	if err := tool.Signal(syscall.SIGSTOP); err != nil {
		point.err = fmt.Errorf("cannot hold %s at its consistent point: %v", d.BackupTool, err)
		return point
	}
	stopped := time.Now()
	defer func() {
		_ = tool.Signal(syscall.SIGCONT)
		point.held = time.Since(stopped)
	}()
	sessions, err := conn.OpenSnapshots(ctx, d.db, max(1, d.Parallelism), nil)
	point.sessions = sessions
	if err != nil {
		point.err = fmt.Errorf("opening the digests' snapshots at the copy's point: %v", conn.Explain(err, "the source database", "ferry:source"))
		return point
	}
	if point.file, point.position, err = snapshotPosition(ctx, sessions[0]); err != nil {
		point.err = err
		return point
	}
	var gtid sql.NullString
	if err := sessions[0].QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid); err == nil {
		point.gtid = gtid.String
	}
	tables, _, err := d.listTables(ctx, sessions[0])
	if err != nil {
		point.err = fmt.Errorf("cannot list the source tables: %v", err)
		return point
	}
	// A writer may hold such a table open while it waits to commit: the plain read lock, which the
	// digests' HIGH_PRIORITY reads go past (heldlock.ReadLockTables).
	if point.tableLock, err = d.readLockUnversioned(ctx, tables, false); err != nil {
		point.err = err
		return point
	}
	if point.objects, err = digest.Catalog(ctx, sessions[0], d.Databases); err != nil {
		point.err = fmt.Errorf("digesting the source's objects: %v", err)
	}
	return point
}

// otherDatabases names the source's databases outside d.Databases and the server's own.
func (d *dumper) otherDatabases(ctx context.Context) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	chosen := map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}
	for _, name := range d.Databases {
		chosen[name] = true
	}
	var others []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if !chosen[name] {
			others = append(others, name)
		}
	}
	return others, rows.Err()
}
