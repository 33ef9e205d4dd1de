package dump

import (
	"testing"
	"testing/fstest"
)

func TestTheCopysEstimateIsTheFilesMariadbBackupCopies(t *testing.T) {
	size := func(n int) *fstest.MapFile { return &fstest.MapFile{Data: make([]byte, n)} }
	dataDir := fstest.MapFS{
		"ibdata1":                 size(1000),
		"undo001":                 size(200),
		"shop/orders.ibd":         size(5000),
		"shop/orders.frm":         size(30),
		"shop/visits.MYD":         size(70),
		"aria_log.00000001":       size(8),
		"mysql/db.MAI":            size(16),
		"binlog.000001":           size(900000),
		"binlog.index":            size(40),
		"host-relay-bin.000002":   size(900000),
		"ib_logfile0":             size(900000),
		"ibtmp1":                  size(900000),
		"ib_buffer_pool":          size(900000),
		"host.err":                size(900000),
		"mysqld.pid":              size(5),
		"shop/binlog.not-a-log":   size(0),
		"binlogs-of-an-app/t.ibd": size(100),
	}
	got, err := copiedBytes(dataDir, "binlog")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1000 + 200 + 5000 + 30 + 70 + 8 + 16 + 100); got != want {
		t.Fatalf("estimated %d bytes; want %d (the tablespaces, tables and Aria log only)", got, want)
	}
	// Without a binary log name, files named like one are counted.
	if got, _ := copiedBytes(fstest.MapFS{"binlog.000001": size(10)}, "."); got != 10 {
		t.Fatalf("estimated %d without a binary log name; want 10", got)
	}
}
