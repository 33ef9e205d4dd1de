package load

import (
	"bytes"
	"strings"
	"testing"
)

const dumped = "-- Table structure for table `t`\n" +
	"DROP TABLE IF EXISTS `t`;\n" +
	"CREATE TABLE `t` (\n" +
	"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
	"  `name` varchar(20) DEFAULT NULL,\n" +
	"  PRIMARY KEY (`id`),\n" +
	"  KEY `by_name` (`name`),\n" +
	"  UNIQUE KEY `u` (`name`,`id`)\n" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n" +
	"LOCK TABLES `t` WRITE;\n" +
	"INSERT INTO `t` VALUES (1,'DEFINER=`a`@`b`'),\n" +
	"(2,'x');\n" +
	"UNLOCK TABLES;\n" +
	"CREATE TABLE `auto_second` (\n" +
	"  `a` int(11) NOT NULL,\n" +
	"  `b` int(11) NOT NULL AUTO_INCREMENT,\n" +
	"  PRIMARY KEY (`a`,`b`),\n" +
	"  KEY `b` (`b`)\n" +
	") ENGINE=InnoDB;\n" +
	"CREATE TABLE `child` (\n" +
	"  `id` int(11) NOT NULL,\n" +
	"  PRIMARY KEY (`id`),\n" +
	"  KEY `p` (`id`),\n" +
	"  CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `t` (`id`)\n" +
	") ENGINE=InnoDB;\n" +
	"CREATE TABLE `new\n" +
	"line` (\n" +
	"  `id` int(11) NOT NULL,\n" +
	"  PRIMARY KEY (`id`),\n" +
	"  KEY `k` (`id`)\n" +
	") ENGINE=InnoDB;\n" +
	"/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n"

func rewrite(t *testing.T, r Rewrite, in string) string {
	t.Helper()
	var out bytes.Buffer
	if err := r.Copy(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestDeferIndexesMovesSecondaryKeysAfterTheRows(t *testing.T) {
	got := rewrite(t, Rewrite{DeferIndexes: true}, dumped)
	want := "CREATE TABLE `t` (\n" +
		"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
		"  `name` varchar(20) DEFAULT NULL,\n" +
		"  PRIMARY KEY (`id`)\n" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
	if !strings.Contains(got, want) {
		t.Fatalf("the keys stayed in the CREATE TABLE:\n%s", got)
	}
	after := "UNLOCK TABLES;\nALTER TABLE `t` ADD KEY `by_name` (`name`), ADD UNIQUE KEY `u` (`name`,`id`);\n"
	if !strings.Contains(got, after) {
		t.Fatalf("no ALTER TABLE after the rows:\n%s", got)
	}
	// Left as dumped: an AUTO_INCREMENT that does not lead the key, a foreign key, a newline.
	for _, kept := range []string{"  KEY `b` (`b`)\n", "  KEY `p` (`id`),\n", "line` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `k` (`id`)\n"} {
		if !strings.Contains(got, kept) {
			t.Fatalf("%q was changed:\n%s", kept, got)
		}
	}
	if strings.Count(got, "ALTER TABLE") != 1 {
		t.Fatalf("want one ALTER TABLE:\n%s", got)
	}
}

func TestStripDefinersTouchesDefinitionsOnly(t *testing.T) {
	got := rewrite(t, Rewrite{StripDefiners: true}, dumped)
	if !strings.Contains(got, "INSERT INTO `t` VALUES (1,'DEFINER=`a`@`b`'),\n") {
		t.Fatalf("a row's text changed:\n%s", got)
	}
	if !strings.Contains(got, "/*!50013  SQL SECURITY DEFINER */\n") {
		t.Fatalf("the view's definer stayed:\n%s", got)
	}
}

func TestNothingAskedChangesNothingAndLongLinesPass(t *testing.T) {
	long := "INSERT INTO `t` VALUES (1,'" + strings.Repeat("x", 3<<20) + "');\n"
	in := dumped + long + "UNLOCK TABLES;\n"
	if got := rewrite(t, Rewrite{}, in); got != in {
		t.Fatal("a rewrite without edits changed the SQL")
	}
	if got := rewrite(t, Rewrite{StripDefiners: true, DeferIndexes: true}, in); !strings.Contains(got, long) {
		t.Fatal("a long row's line did not pass whole")
	}
}

func TestDropTableLocksLeavesOutOnlyTheLockLine(t *testing.T) {
	got := rewrite(t, Rewrite{DropTableLocks: true}, dumped)
	if want := strings.Replace(dumped, "LOCK TABLES `t` WRITE;\n", "", 1); got != want {
		t.Fatalf("more than the lock line changed:\n%s", got)
	}
}
