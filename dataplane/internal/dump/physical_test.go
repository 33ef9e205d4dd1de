package dump

import (
	"errors"
	"strings"
	"testing"

	"ferry.local/dataplane/internal/digest"
)

func TestTheCopyIsKeptOnlyAtTheDigestsPoint(t *testing.T) {
	point := &pointOfCopy{file: "binlog.000002", position: "4096"}
	if err := sameCopyPoint([3]string{"binlog.000002", "4096", "0-1-9"}, point, "mariadb-backup"); err != nil {
		t.Fatalf("the same position refused: %v", err)
	}
	for _, copied := range [][3]string{
		{"binlog.000002", "4200", "0-1-10"}, // commits after the snapshots opened
		{"binlog.000003", "4096", ""},       // another file at the same offset
		{"", "", ""},                        // the tool said no position
	} {
		err := sameCopyPoint(copied, point, "mariadb-backup")
		if err == nil || !strings.Contains(err.Error(), "cannot be verified and is not kept") {
			t.Fatalf("copy at %q against digests at %s %s: %v; want it refused", copied, point.file, point.position, err)
		}
	}
}

func TestTheBackupToolsPositionLineIsRead(t *testing.T) {
	line := "[00] 2026-12-07 14:46:32 MySQL binlog position: filename 'bin.000001', position '1210', GTID of the last change '0-7-5'"
	found := backupPosition.FindStringSubmatch(line)
	if found == nil || found[1] != "bin.000001" || found[2] != "1210" || found[3] != "0-7-5" {
		t.Fatalf("read %q from %q", found, line)
	}
	if backupPosition.FindStringSubmatch("[00] 2026-12-07 14:46:32 Streaming xtrabackup_binlog_info") != nil {
		t.Fatal("a line without the position was read as one")
	}
}

func TestDigestsReadBesideTheCopyAreKeptOnlyForTheSameTable(t *testing.T) {
	at := func(kind digest.Kind, name, definition, content string) digest.Object {
		return digest.Object{Kind: kind, Database: "shop", Name: name, Definition: definition, Content: content}
	}
	point := []digest.Object{
		at(digest.Table, "orders", "d1", ""),
		at(digest.Table, "altered", "d2-after", ""), // its definition changed during the copy
		at(digest.Table, "created", "d3", ""),       // not in the snapshots read beside the copy
		at(digest.Sequence, "ids", "d4", ""),        // read at the point: one row
		at(digest.Table, "unread", "d5", ""),        // the reading beside the copy stopped before it
		at(digest.View, "v", "d6", ""),
	}
	early := []digest.Object{
		at(digest.Table, "orders", "d1", "3:abc"),
		at(digest.Table, "altered", "d2", "3:def"),
		at(digest.Sequence, "ids", "d4", "1:2:3"),
		at(digest.Table, "unread", "d5", ""),
		at(digest.View, "v", "d6", "x"),
	}
	early[0].Rows = 3
	adopted := adoptDigests(point, early)
	if len(adopted) != 1 || !adopted[point[0].Key()] {
		t.Fatalf("adopted %v; want only shop.orders", adopted)
	}
	if point[0].Content != "3:abc" || point[0].Rows != 3 {
		t.Fatalf("orders got %q (%d rows); want the content read beside the copy", point[0].Content, point[0].Rows)
	}
	for _, o := range point[1:] {
		if o.Content != "" || o.Rows != 0 {
			t.Fatalf("%s was given %q: it is not the table read beside the copy", o, o.Content)
		}
	}
}

func TestDigestsReadBesideTheCopyAreKeptOnlyAtTheCopysPoint(t *testing.T) {
	read := func() *earlyDigests {
		done := make(chan struct{})
		close(done)
		e := &earlyDigests{file: "binlog.000001", position: "900", done: done,
			tables: []digest.Object{{Kind: digest.Table, Database: "shop", Name: "orders", Definition: "d", Content: "1:ab", Rows: 1}}}
		e.cancel = func() {}
		return e
	}
	var logged []string
	log := func(format string, args ...any) { logged = append(logged, format) }
	for _, at := range [][2]string{{"binlog.000001", "901"}, {"binlog.000002", "900"}} {
		point := &pointOfCopy{file: at[0], position: at[1], objects: []digest.Object{{Kind: digest.Table, Database: "shop", Name: "orders", Definition: "d"}}}
		if adopted := read().adopt(point, log); len(adopted) != 0 || point.objects[0].Content != "" {
			t.Fatalf("digests at binlog.000001 900 kept for a copy at %s %s", at[0], at[1])
		}
	}
	failed := read()
	failed.err = errors.New("the reading was stopped")
	point := &pointOfCopy{file: "binlog.000001", position: "900", objects: []digest.Object{{Kind: digest.Table, Database: "shop", Name: "orders", Definition: "d"}}}
	if adopted := failed.adopt(point, log); len(adopted) != 0 {
		t.Fatal("digests of a reading that failed were kept")
	}
	if adopted := read().adopt(point, log); len(adopted) != 1 || point.objects[0].Content != "1:ab" {
		t.Fatalf("digests at the copy's own point not kept: %v", adopted)
	}
	if len(logged) != 3 {
		t.Fatalf("said %d things; want the two other points and the failure said", len(logged))
	}
}
