package load

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// q quotes a name as mariadb-dump does: in backticks, a backtick doubled.
func q(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// header is how mariadb-dump opens every stream: the sandbox line, then the session settings,
// sql_mode among them.
const header = "/*M!999999\\- enable the sandbox mode */ \n" +
	"-- MariaDB dump 10.19-10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n" +
	"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n" +
	"/*!40101 SET NAMES utf8mb4 */;\n" +
	"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n" +
	"USE `d`;\n"

const dumped = header +
	"--\n-- Table structure for table `t`\n--\n\n" +
	"DROP TABLE IF EXISTS `t`;\n" +
	"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n" +
	"CREATE TABLE `t` (\n" +
	"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
	"  `name` varchar(20) DEFAULT NULL,\n" +
	"  PRIMARY KEY (`id`),\n" +
	"  KEY `by_name` (`name`),\n" +
	"  UNIQUE KEY `u` (`name`,`id`)\n" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n" +
	"/*!40101 SET character_set_client = @saved_cs_client */;\n" +
	"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n" +
	"INSERT INTO `t` VALUES (1,'DEFINER=`a`@`b`'),\n" +
	"(2,'x;\\' KEY `k`');\n" +
	"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n" +
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
	"/*!50001 CREATE ALGORITHM=UNDEFINED */\n" +
	"/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n" +
	"/*!50001 VIEW `v` AS select 'DEFINER=`x`@`y`' AS `c` */;\n"

func rewrite(t *testing.T, r Rewrite, in string) string {
	t.Helper()
	var out bytes.Buffer
	if err := r.Copy(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

var both = Rewrite{StripDefiners: true, DeferIndexes: true, ServerVersion: 101119}

func TestDeferIndexesMovesSecondaryKeysAfterTheRows(t *testing.T) {
	got := rewrite(t, Rewrite{DeferIndexes: true, ServerVersion: 101119}, dumped)
	want := "CREATE TABLE `t` (\n" +
		"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
		"  `name` varchar(20) DEFAULT NULL,\n" +
		"  PRIMARY KEY (`id`)\n" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
	if !strings.Contains(got, want) {
		t.Fatalf("the keys stayed in the CREATE TABLE:\n%s", got)
	}
	after := "/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nALTER TABLE `t` ADD KEY `by_name` (`name`), ADD UNIQUE KEY `u` (`name`,`id`);\nCREATE TABLE `auto_second`"
	if !strings.Contains(got, after) {
		t.Fatalf("no ALTER TABLE right after the rows:\n%s", got)
	}
	// Left as dumped: an AUTO_INCREMENT that does not lead the key, a foreign key.
	for _, kept := range []string{"  KEY `b` (`b`)\n", "  KEY `p` (`id`),\n"} {
		if !strings.Contains(got, kept) {
			t.Fatalf("%q was changed:\n%s", kept, got)
		}
	}
	if strings.Count(got, "ALTER TABLE `t` ADD") != 1 || strings.Count(got, " ADD ") != 2 {
		t.Fatalf("want one ALTER TABLE adding two keys:\n%s", got)
	}
}

func TestStripDefinersTouchesDefinitionHeadsOnly(t *testing.T) {
	got := rewrite(t, Rewrite{StripDefiners: true, ServerVersion: 101119}, dumped)
	if !strings.Contains(got, "INSERT INTO `t` VALUES (1,'DEFINER=`a`@`b`'),\n") {
		t.Fatalf("a row's text changed:\n%s", got)
	}
	if !strings.Contains(got, "/*!50013  SQL SECURITY DEFINER */\n/*!50001 VIEW `v` AS select 'DEFINER=`x`@`y`' AS `c` */;\n") {
		t.Fatalf("the view's definer stayed, or its body changed:\n%s", got)
	}
}

func TestNothingAskedChangesNothingAndLongStatementsPass(t *testing.T) {
	long := "INSERT INTO `t` VALUES (1,'" + strings.Repeat("x;`''", 1<<20) + "');\n"
	in := dumped + long
	if got := rewrite(t, Rewrite{ServerVersion: 101119}, in); got != in {
		t.Fatal("a rewrite without edits changed the SQL")
	}
	if got := rewrite(t, both, in); !strings.Contains(got, long) {
		t.Fatal("a long row's statement did not pass whole")
	}
}

// The reviewer's finding and its class: a name in a CREATE TABLE that holds a newline, spaces
// and a keyword, a parenthesis, a semicolon, a comment opener or a backtick is a name, never a
// line of the statement: the ALTER TABLE adds back exactly the keys, and no name escapes its
// backticks.
func TestNamesThatLookLikeKeyLinesStayNames(t *testing.T) {
	for _, name := range []string{
		"x\n  KEY `k` (`id`)); DROP DATABASE victim; -- ",
		"x\n  KEY ",
		"x\n  UNIQUE KEY `u` (`id`),\n  CONSTRAINT",
		"x\n  PRIMARY KEY (`x`)",
		"x\n) ENGINE=InnoDB;\nDROP DATABASE victim;\nCREATE TABLE `y` (\n",
		"a;b", "/* c", "-- d", "# e", "`", "``;", "'", "\"", "\\",
		"x\nDELIMITER ;;\n",
	} {
		column, index, table := q("c"+name), q("k"+name), q("t"+name)
		in := header + "CREATE TABLE " + table + " (\n" +
			"  `id` int(11) NOT NULL,\n" +
			"  " + column + " varchar(20) DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  KEY " + index + " (" + column + ")\n" +
			") ENGINE=InnoDB;\n" +
			"INSERT INTO " + table + " VALUES (1,'v');\n"
		got := rewrite(t, both, in)
		wantCreate := "CREATE TABLE " + table + " (\n" +
			"  `id` int(11) NOT NULL,\n" +
			"  " + column + " varchar(20) DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`)\n" +
			") ENGINE=InnoDB;\n"
		wantAlter := "INSERT INTO " + table + " VALUES (1,'v');\nALTER TABLE " + table + " ADD KEY " + index + " (" + column + ");\n"
		if !strings.HasSuffix(got, wantCreate+"INSERT INTO "+table+" VALUES (1,'v');\n"+wantAlter[len("INSERT INTO "+table+" VALUES (1,'v');\n"):]) {
			t.Fatalf("name %q: want\n%s%s\ngot\n%s", name, wantCreate, wantAlter, got)
		}
	}
}

// A routine's body is the routine's: a CREATE TABLE inside it is neither cut nor followed by an
// ALTER TABLE, and its DEFINER is the only thing stripped.
func TestRoutineBodiesArriveUnchanged(t *testing.T) {
	body := "BEGIN\n" +
		"CREATE TABLE `inner` (\n" +
		"  `id` int NOT NULL,\n" +
		"  PRIMARY KEY (`id`),\n" +
		"  KEY `k` (`id`)\n" +
		") ENGINE=InnoDB;\n" +
		"SELECT 'DEFINER=`a`@`b`', \"x;;\" /* ;; */;\n" +
		"END"
	in := header + "/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n" +
		"/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES' */ ;\n" +
		"DELIMITER ;;\n" +
		"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\n" + body + " ;;\n" +
		"DELIMITER ;\n" +
		"/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n"
	got := rewrite(t, both, in)
	want := strings.Replace(in, "CREATE DEFINER=`root`@`localhost` PROCEDURE", "CREATE  PROCEDURE", 1)
	if got != want {
		t.Fatalf("want\n%s\ngot\n%s", want, got)
	}
}

// What the client could read otherwise than the server did when the source created the object
// is refused, not passed: a delimiter or a quote inside an executable comment the server skips,
// a client command outside quotes, a double quote under ANSI_QUOTES.
func TestWhatTheClientWouldReadOtherwiseIsRefused(t *testing.T) {
	for name, routine := range map[string]string{
		"a delimiter in a skipped executable comment": "BEGIN /*!999999 ;; DROP DATABASE victim ;; */ SELECT 1; END",
		"a quote in a skipped executable comment":     "BEGIN /*!999999 ' */ SELECT 1; END",
		"a client command":                            "BEGIN SELECT 1 \\! id\n; END",
		"a hint holding a delimiter":                  "BEGIN SELECT /*+ ;; */ 1; END",
		"a line comment in a skipped comment":         "BEGIN /*!999999 -- */ SELECT 1; END",
		"dashes and a control byte":                   "SELECT 1 --\x01 ;; DROP DATABASE victim ;;\n",
		"dashes and DEL":                              "SELECT 1 --\x7f ;; DROP DATABASE victim ;;\n",
	} {
		in := header + "DELIMITER ;;\nCREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\n" + routine + " ;;\nDELIMITER ;\n"
		var out bytes.Buffer
		err := both.Copy(&out, strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: want a refusal, got %v\n%s", name, err, out.String())
		}
	}
	ansi := header + "/*!50003 SET sql_mode = 'ANSI_QUOTES' */ ;\nDELIMITER ;;\nCREATE PROCEDURE `p`() SELECT \"a\\\" ;;\nDELIMITER ;\n"
	if err := both.Copy(&bytes.Buffer{}, strings.NewReader(ansi)); err == nil {
		t.Error("a double quote under ANSI_QUOTES was not refused")
	}
}

// NO_BACKSLASH_ESCAPES is followed: a backslash before a quote does not escape it there.
func TestNoBackslashEscapesIsFollowed(t *testing.T) {
	in := header + "/*!50003 SET @saved_sql_mode = @@sql_mode */ ;\n" +
		"/*!50003 SET sql_mode = 'NO_BACKSLASH_ESCAPES' */ ;\n" +
		"DELIMITER ;;\nCREATE DEFINER=`root`@`localhost` PROCEDURE `p`() SELECT 'a\\' ;;\nDELIMITER ;\n" +
		"/*!50003 SET sql_mode = @saved_sql_mode */ ;\n" +
		"CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `k` (`id`)\n) ENGINE=InnoDB;\n" +
		"INSERT INTO `t` VALUES (1,'\\';');\n"
	got := rewrite(t, both, in)
	if !strings.Contains(got, "CREATE  PROCEDURE `p`() SELECT 'a\\' ;;\n") {
		t.Fatalf("the procedure was not read as one statement:\n%s", got)
	}
	if !strings.HasSuffix(got, "INSERT INTO `t` VALUES (1,'\\';');\nALTER TABLE `t` ADD KEY `k` (`id`);\n") {
		t.Fatalf("the quoting was not restored after the procedure:\n%s", got)
	}
}

func TestATruncatedStreamIsRefused(t *testing.T) {
	for _, in := range []string{header + "INSERT INTO `t` VALUES (1,'x", header + "INSERT INTO `t` VALUES (1)"} {
		if err := both.Copy(&bytes.Buffer{}, strings.NewReader(in)); err == nil {
			t.Errorf("%q: a stream ending inside a statement was accepted", in[len(header):])
		}
	}
}

func TestContainsSQLModeInAnyCase(t *testing.T) {
	for text, want := range map[string]bool{"SET Sql_Mode=''": true, "sql_mode": true, "@@SQL_MODE,": true,
		"sql_modes": true, "sql mode": false, "_mode": false, "sql_mod": false, "": false} {
		if got := containsSQLMode([]byte(text)); got != want {
			t.Errorf("%q: got %v", text, got)
		}
	}
}

// A statement whose head the lexer does not follow (a hint) and that names sql_mode makes the
// session's quoting unknown: a backslash in a string after it is refused.
func TestAnUnreadSQLModeChangeMakesTheQuotingUnknown(t *testing.T) {
	in := header + "/*+ hint */ SET sql_mode = 0;\nINSERT INTO `t` VALUES ('a\\');\n"
	if err := both.Copy(&bytes.Buffer{}, strings.NewReader(in)); err == nil {
		t.Fatal("a backslash after an unread sql_mode change was accepted")
	}
}

// A client character set whose characters may hold a quote or backslash byte is refused, whether
// the SET is read by its tokens or passed unread (a hint the lexer does not follow).
func TestUnsafeClientCharsetsAreRefused(t *testing.T) {
	for _, set := range []string{"/*!40101 SET NAMES sjis */;\n", "SET character_set_client = 'GBK';\n", "/*+ x */ SET NAMES big5;\n"} {
		err := both.Copy(&bytes.Buffer{}, strings.NewReader(header+set))
		if err == nil || !strings.Contains(err.Error(), "names the character set") {
			t.Errorf("%q: want a refusal, got %v", set, err)
		}
	}
	if err := both.Copy(&bytes.Buffer{}, strings.NewReader(header+"/*!40101 SET NAMES latin1 */;\n")); err != nil {
		t.Errorf("latin1 refused: %v", err)
	}
}

func TestContainsSQLModeAtEveryUnderscore(t *testing.T) {
	// A run of underscores before the name, and an underscore too near the end to start it.
	for text, want := range map[string]bool{"@__sql_mode": true, "a__b": false, "abcd_e": false, "x_": false} {
		if got := containsSQLMode([]byte(text)); got != want {
			t.Errorf("%q: got %v", text, got)
		}
	}
}

// reads delivers a stream in pieces of n bytes, as a pipe or a download may.
type reads struct {
	text []byte
	n    int
}

func (r *reads) Read(p []byte) (int, error) {
	if len(r.text) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.text)
	r.text = r.text[n:]
	return n, nil
}

// Statements too long to hold (a row's INSERT past holdBytes) pass as dumped, and the rewrite goes
// on after them: the keys of the next table are still deferred, the stream's closing comment
// still there, however the stream is cut into reads.
func TestRewritingGoesOnAfterLongStatements(t *testing.T) {
	long := func(table string) string {
		return "INSERT INTO " + q(table) + " VALUES (1,'" + strings.Repeat("x;`''", holdBytes/4) + "');\n"
	}
	create := "CREATE TABLE `t2` (\n  `id` int NOT NULL,\n  `v` int DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `by_v` (`v`)\n) ENGINE=InnoDB;\n"
	closing := "-- Dump completed on 2026-12-05 17:00:00\n"
	in := dumped + long("t") + create + long("t2") + "INSERT INTO `t2` VALUES (2,2);\n" + closing
	want := rewrite(t, both, dumped) + long("t") +
		"CREATE TABLE `t2` (\n  `id` int NOT NULL,\n  `v` int DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n" +
		long("t2") + "INSERT INTO `t2` VALUES (2,2);\nALTER TABLE `t2` ADD KEY `by_v` (`v`);\n" + closing
	for _, n := range []int{len(in), 1 << 16, 4093, 1} {
		var out bytes.Buffer
		if err := both.Copy(&out, &reads{[]byte(in), n}); err != nil {
			t.Fatalf("reads of %d bytes: %v", n, err)
		}
		if out.String() != want {
			t.Fatalf("reads of %d bytes: %d bytes out, want %d; the end:\n%s", n, out.Len(), len(want), out.String()[max(0, out.Len()-300):])
		}
	}
}

// An executable comment for a newer server than the destination is skipped by it, so what it
// sets of sql_mode is unknown; one for the destination's own version is run, and followed.
func TestExecutableCommentsAreFollowedByTheirVersion(t *testing.T) {
	backslash := "INSERT INTO `t` VALUES ('a\\');\n" // one string under NO_BACKSLASH_ESCAPES
	newer := header + "/*!110000 SET sql_mode = 'NO_BACKSLASH_ESCAPES' */;\n" + backslash
	if err := both.Copy(&bytes.Buffer{}, strings.NewReader(newer)); err == nil {
		t.Error("a backslash after a newer server's sql_mode change was accepted")
	}
	same := header + "/*!101119 SET sql_mode = 'NO_BACKSLASH_ESCAPES' */;\n" + backslash
	if got := rewrite(t, both, same); got != same {
		t.Errorf("a change for the server's own version was not followed:\n%s", got)
	}
}

// sql_mode saved to a user variable (with = or :=) and restored from it, not from the session.
func TestSQLModeIsRestoredFromTheVariableItWasSavedIn(t *testing.T) {
	for _, save := range []string{"SET @saved = @@SESSION.sql_mode;\n", "SET @saved := @@sql_mode;\n"} {
		in := header + save +
			"SET sql_mode = 'NO_BACKSLASH_ESCAPES';\n" +
			"SET sql_mode = @saved;\n" +
			"INSERT INTO `t` VALUES ('a\\';');\n" // one string under the dump's mode, not under NO_BACKSLASH_ESCAPES
		if got := rewrite(t, both, in); got != in {
			t.Errorf("%q: the restored mode was not followed:\n%s", save, got)
		}
	}
}

// Heads the DEFINER stripping cannot read whole are left as they are, never read past their end;
// a definer in single quotes is a definer.
func TestStripDefinersReadsOnlyWholeHeads(t *testing.T) {
	for _, odd := range []string{"CREATE OR REPLACE;\n", "CREATE ALGORITHM = MERGE;\n", "CREATE DEFINER = `a`@;\n", "CREATE DEFINER = `a` @ `b`;\n"} {
		if got := rewrite(t, both, header+odd); got != header+odd {
			t.Errorf("%q changed: %q", odd, got[len(header):])
		}
	}
	quoted := "CREATE DEFINER='root'@'localhost' PROCEDURE `p`() SELECT 1;\n"
	if got := rewrite(t, both, header+quoted); got != header+"CREATE  PROCEDURE `p`() SELECT 1;\n" {
		t.Errorf("a single-quoted definer stayed: %q", got[len(header):])
	}
}

// A CREATE TABLE whose parentheses do not close is left as dumped (the server refuses it), never
// read past its end.
func TestAnUnclosedCreateTableIsLeftAsDumped(t *testing.T) {
	odd := "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `k` (`id`);\n"
	if got := rewrite(t, both, header+odd); got != header+odd {
		t.Errorf("changed: %q", got[len(header):])
	}
}

// Never read past a slice's end, even where its array goes on and spells the name.
func TestContainsSQLModeReadsOnlyItsSlice(t *testing.T) {
	if containsSQLMode([]byte("xxsql_modexx")[:6]) {
		t.Error("read past the end of the slice")
	}
}

// A CREATE TABLE longer than a statement is held for (a long COMMENT) still has its keys
// deferred: it is held up to maxHeld.
func TestALongCreateTableIsStillRewritten(t *testing.T) {
	comment := strings.Repeat("c", holdBytes+holdBytes/2)
	in := header + "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `k` (`id`)\n) ENGINE=InnoDB COMMENT='" + comment + "';\n"
	want := header + "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB COMMENT='" + comment + "';\nALTER TABLE `t` ADD KEY `k` (`id`);\n"
	var out bytes.Buffer
	if err := both.Copy(&out, &reads{[]byte(in), 4093}); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("the long CREATE TABLE kept its key: %d bytes out, want %d", out.Len(), len(want))
	}
}

// A SET whose sql_mode part the destination skips (an executable comment for a newer server),
// or whose assignments cannot all be read, leaves the quoting unknown: a backslash in a string
// after it is refused, though under the mode before it the string is whole.
func TestASQLModeSetThatCannotBeReadMakesTheQuotingUnknown(t *testing.T) {
	after := "INSERT INTO `t` VALUES ('a\\'');\n"
	if got := rewrite(t, both, header+"SET @x = 1;\n"+after); got != header+"SET @x = 1;\n"+after {
		t.Fatalf("the string is not whole under the dump's mode: %q", got)
	}
	for _, set := range []string{
		"SET /*!110000 sql_mode = @@sql_mode, */ @x = 1;\n",
		"SET = 1, sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n",
		"SET sql_mode =, sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n",
	} {
		if err := both.Copy(&bytes.Buffer{}, strings.NewReader(header+set+after)); err == nil {
			t.Errorf("%q: a backslash after it was accepted", set)
		}
	}
}
