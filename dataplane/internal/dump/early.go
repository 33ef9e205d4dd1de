package dump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"ferry.local/dataplane/internal/conn"
	"ferry.local/dataplane/internal/digest"
	"ferry.local/dataplane/internal/sqlident"
)

// Digests read beside the copy. The digests must describe the rows at the copy's point, which is
// the copy's end; read only after it, they add their whole time to the step's. A source that takes
// no writes during the copy (what the snapshot mode asks of the application) is at the copy's
// point from the copy's start: so ferry opens snapshots before the copy and reads the tables'
// rows in them while it runs, and keeps those digests only if the copy's point is the binary log
// position those snapshots saw (nothing committed in between) and each table's definition there
// is the one they read. Otherwise, or where a table has no transactions (no snapshot holds it),
// the digests are read at the copy's point, after it, as they always were. A source seen
// committing during the copy stops the reading beside it at once, so a busy source pays little.

// watchEvery is how often the source's binary log position is read while digests are read beside
// the copy.
const watchEvery = 500 * time.Millisecond

// earlyDigests are the tables' digests being read in snapshots opened before the copy.
type earlyDigests struct {
	file, position string
	// tables are the tables of the snapshots' catalog, their content filled in by the reading.
	tables   []digest.Object
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	stopOnce sync.Once
}

// startEarlyDigests opens the snapshots and starts reading the tables' rows in them. It returns
// nil, having said why, when such digests could not describe the copy.
func (d *dumper) startEarlyDigests(ctx context.Context, key digest.RowKey) *earlyDigests {
	var sessions []*sql.Conn
	notBeside := func(why string) *earlyDigests {
		conn.CloseAll(sessions)
		d.Log("the digests will be read at the copy's point, after it: %s", why)
		return nil
	}
	if unheld, err := d.tableWithoutTransactions(ctx); err != nil || unheld != "" {
		return notBeside(orNone(unheld, fmt.Sprintf("cannot list the source tables (%v)", err)))
	}
	sessions, err := conn.OpenSnapshots(ctx, d.db, max(1, d.Parallelism), nil)
	if err != nil {
		return notBeside(fmt.Sprintf("opening snapshots before the copy failed (%v)", err))
	}
	e := &earlyDigests{done: make(chan struct{})}
	for i, session := range sessions {
		file, position, err := snapshotPosition(ctx, session)
		if err != nil {
			return notBeside(err.Error())
		}
		if i == 0 {
			e.file, e.position = file, position
		} else if file != e.file || position != e.position {
			return notBeside("the source committed while the snapshots opened")
		}
	}
	objects, err := digest.Catalog(ctx, sessions[0], d.Databases)
	if err != nil {
		return notBeside(fmt.Sprintf("reading the catalog failed (%v)", err))
	}
	for _, o := range objects {
		// A sequence's state is one row: it is read at the copy's point.
		if o.Kind == digest.Table {
			e.tables = append(e.tables, o)
		}
	}
	ctx, e.cancel = context.WithCancel(ctx)
	d.Log("reading the digests of %d table(s) beside the copy, in snapshots at binlog %s %s; they are kept if the copy's point is there", len(e.tables), e.file, e.position)
	go func() {
		defer close(e.done)
		e.err = digest.Contents(ctx, key, sessions, e.tables, nil)
		// Read or stopped, the snapshots are done with: closed at once, they hold back neither
		// the source's purge nor a DDL waiting on the tables they read.
		conn.CloseAll(sessions)
	}()
	go e.watch(ctx, d)
	return e
}

// tableWithoutTransactions names a table of the databases that no snapshot holds, "" if none.
func (d *dumper) tableWithoutTransactions(ctx context.Context) (string, error) {
	session, err := d.db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer session.Close()
	tables, _, err := d.listTables(ctx, session)
	if err != nil {
		return "", err
	}
	for _, t := range tables {
		if !t.View && !strings.EqualFold(t.Engine, "InnoDB") {
			return fmt.Sprintf("%s has no transactions (%s), so no snapshot holds its rows", sqlident.Qualified(t.Database, t.Name), orNone(t.Engine, "no engine")), nil
		}
	}
	return "", nil
}

// snapshotPosition is the binary log position a session's consistent snapshot sees.
func snapshotPosition(ctx context.Context, session *sql.Conn) (file, position string, err error) {
	var name string
	for _, variable := range []struct {
		name  string
		value *string
	}{{"binlog_snapshot_file", &file}, {"binlog_snapshot_position", &position}} {
		if err := session.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE '"+variable.name+"'").Scan(&name, variable.value); err != nil {
			return "", "", fmt.Errorf("reading the snapshot's binlog position (%s): %v", variable.name, err)
		}
	}
	return file, position, nil
}

// watch stops the reading as soon as the source's binary log moves past the snapshots: those
// digests can no longer be the copy's.
func (e *earlyDigests) watch(ctx context.Context, d *dumper) {
	ticker := time.NewTicker(watchEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.done:
			return
		case <-ticker.C:
		}
		var file, position, doDB, ignoreDB sql.NullString
		if err := d.db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &position, &doDB, &ignoreDB); err != nil {
			continue
		}
		if file.String != e.file || position.String != e.position {
			e.stop()
			d.Log("the source committed during the copy (binlog %s %s, the snapshots at %s %s): the reading beside it stops; the digests will be read at the copy's point, after it", file.String, position.String, e.file, e.position)
			return
		}
	}
}

// stop cancels the reading.
func (e *earlyDigests) stop() { e.stopOnce.Do(e.cancel) }

// close stops the reading if it still runs, and waits for it (and its sessions) to end.
func (e *earlyDigests) close() {
	e.stop()
	<-e.done
}

// adopt waits for the digests read beside the copy and fills them into the objects read at the
// copy's point, where they describe the same rows: the copy's point is the snapshots' binary log
// position, and the table's definition is the same. It returns the keys of the objects filled.
func (e *earlyDigests) adopt(point *pointOfCopy, log func(string, ...any)) map[string]bool {
	adopted := map[string]bool{}
	if point.file != e.file || point.position != e.position {
		e.stop()
		log("the copy's point (binlog %s %s) is not the snapshots' read beside it (%s %s): the source committed during the copy", point.file, point.position, e.file, e.position)
		return adopted
	}
	<-e.done
	if e.err != nil {
		log("the digests read beside the copy failed (%v): they are read again at the copy's point", e.err)
		return adopted
	}
	return adoptDigests(point.objects, e.tables)
}

// adoptDigests fills each table of objects with the content read beside the copy for the same
// table of the same definition, and returns the keys of the tables filled.
func adoptDigests(objects, early []digest.Object) map[string]bool {
	byKey := make(map[string]digest.Object, len(early))
	for _, o := range early {
		byKey[o.Key()] = o
	}
	adopted := map[string]bool{}
	for i := range objects {
		o := &objects[i]
		read, found := byKey[o.Key()]
		if o.Kind != digest.Table || !found || read.Definition != o.Definition || read.Content == "" {
			continue
		}
		o.Rows, o.Content = read.Rows, read.Content
		adopted[o.Key()] = true
	}
	return adopted
}
