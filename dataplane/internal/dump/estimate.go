package dump

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// copyEstimate is how many bytes the physical copy's stream will hold, for its progress lines,
// and what the figure is based on: the files of the source's data directory that mariadb-backup
// copies (the dump runs where it can read them: the preflight checked), else the tables' sizes,
// which leave out the system tablespace, the undo logs and the free pages of each file and fell
// short by a tenth at 1 GiB.
func (d *dumper) copyEstimate(ctx context.Context) (int64, string, error) {
	var dataDir string
	var binlog sql.NullString
	if err := d.db.QueryRowContext(ctx, "SELECT @@GLOBAL.datadir, @@GLOBAL.log_bin_basename").Scan(&dataDir, &binlog); err != nil {
		return 0, "", err
	}
	if bytes, err := copiedBytes(os.DirFS(dataDir), filepath.Base(binlog.String)); err == nil && bytes > 0 {
		return bytes, "total=estimated-from-the-data-directory", nil
	}
	var bytes int64
	err := d.db.QueryRowContext(ctx, "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES").Scan(&bytes)
	return bytes, "total=estimated-from-table-sizes", err
}

// copiedBytes sums the sizes of the data directory's files the copy carries: not the binary and
// relay logs (binlogBase is the binary log's file name before its number), the redo log (the copy
// carries only what is written to it meanwhile), the temporary tablespace, nor the server's
// error log, pid file, socket and buffer pool dump.
func copiedBytes(dataDir fs.FS, binlogBase string) (int64, error) {
	var total int64
	err := fs.WalkDir(dataDir, ".", func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !entry.Type().IsRegular() || !copied(entry.Name(), binlogBase) {
			return nil
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}

func copied(name, binlogBase string) bool {
	if binlogBase != "" && binlogBase != "." && strings.HasPrefix(name, binlogBase+".") {
		return false
	}
	for _, prefix := range []string{"ib_logfile", "ibtmp", "ib_buffer_pool"} {
		if strings.HasPrefix(name, prefix) {
			return false
		}
	}
	for _, suffix := range []string{".err", ".pid", ".sock"} {
		if strings.HasSuffix(name, suffix) {
			return false
		}
	}
	return !strings.Contains(name, "-relay-bin")
}
