package dump

import (
	"strings"
	"testing"
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
