package load

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// dumpString escapes a value as mariadb-dump writes it in a row (mysql_real_escape_string).
func dumpString(value string) string {
	r := strings.NewReplacer("\\", "\\\\", "'", "\\'", "\"", "\\\"", "\n", "\\n", "\r", "\\r", "\x00", "\\0", "\x1a", "\\Z")
	return "'" + r.Replace(value) + "'"
}

// dumpComment is a name in one of mariadb-dump's "-- " comments: a newline starts a new comment
// line (its fix_for_comment).
func dumpComment(name string) string { return strings.ReplaceAll(name, "\n", "\n-- ") }

// scriptFor is a stream as mariadb-dump writes it for a table, its rows, a trigger and a routine,
// every name and value made of name, and what the rewrite must make of it: the keys added back
// after the rows, the definers gone from the heads, nothing else changed.
func scriptFor(name string) (in, want string) {
	table, column, key, unique := q("t"+name), q("c"+name), q("k"+name), q("u"+name)
	createHead := "CREATE TABLE " + table + " (\n" +
		"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
		"  " + column + " varchar(20) DEFAULT NULL COMMENT " + dumpString(name) + ",\n" +
		"  PRIMARY KEY (`id`)"
	keys := "  KEY " + key + " (" + column + "),\n" +
		"  UNIQUE KEY " + unique + " (" + column + ",`id`) COMMENT " + dumpString(name) + "\n"
	createTail := ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT=" + dumpString(name) + ";\n"
	rows := "/*!40000 ALTER TABLE " + table + " DISABLE KEYS */;\n" +
		"INSERT INTO " + table + " VALUES (1," + dumpString(name) + "),\n(2," + dumpString(name+";") + ");\n" +
		"/*!40000 ALTER TABLE " + table + " ENABLE KEYS */;\n"
	alter := "ALTER TABLE " + table + " ADD KEY " + key + " (" + column + "), ADD UNIQUE KEY " + unique + " (" + column + ",`id`) COMMENT " + dumpString(name) + ";\n"
	routineBody := "BEGIN\nCREATE TABLE " + table + " (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY " + key + " (`id`)\n);\n" +
		"SELECT " + dumpString(name) + " AS " + column + ";\nEND"
	trigger := "/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n" +
		"/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES' */ ;\n" +
		"DELIMITER ;;\n" +
		"/*!50003 CREATE*/ /*!50017 DEFINER=" + q(name) + "@`%`*/ /*!50003 TRIGGER " + q("tr"+name) + " BEFORE INSERT ON " + table + " FOR EACH ROW SET NEW." + column + " = " + dumpString(name) + " */;;\n" +
		"DELIMITER ;\n" +
		"/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n"
	routine := "DELIMITER ;;\n" +
		"CREATE DEFINER=`root`@" + q(name) + " PROCEDURE " + q("p"+name) + "()\n" + routineBody + " ;;\n" +
		"DELIMITER ;\n"
	comment := "--\n-- Table structure for table " + q(dumpComment(name)) + "\n--\n\n"
	in = header + comment + "DROP TABLE IF EXISTS " + table + ";\n" + createHead + ",\n" + keys + createTail +
		rows + trigger + routine
	want = header + comment + "DROP TABLE IF EXISTS " + table + ";\n" + createHead + "\n" + createTail +
		rows + alter +
		strings.Replace(trigger, "/*!50017 DEFINER="+q(name)+"@`%`*/", "/*!50017 */", 1) +
		strings.Replace(routine, "CREATE DEFINER=`root`@"+q(name)+" PROCEDURE", "CREATE  PROCEDURE", 1)
	return in, want
}

// FuzzRewriteNames: whatever a name holds, every statement the import sends keeps it inside its
// quotes: the rewritten script is exactly the one the generator expects, statement by statement.
func FuzzRewriteNames(f *testing.F) {
	for _, seed := range []string{"plain", "x\n  KEY `k` (`id`)); DROP DATABASE victim; -- ", "a\n  KEY `` (id); DROP DATABASE victim; #\n  b",
		"x\n) ENGINE=InnoDB;\nDROP DATABASE v;\n", ";;", "DELIMITER ;", "\nDELIMITER ;;\n", "/*!50003 ", "*/", "\\", "'\"`", "# c", "-- c", "\r\n", "\x01--\x01", "商品"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || strings.ContainsRune(name, 0) || len(name) > 60 {
			t.Skip("not a name a server holds")
		}
		in, want := scriptFor(name)
		var out bytes.Buffer
		if err := both.Copy(&out, strings.NewReader(in)); err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
		if out.String() != want {
			t.Fatalf("name %q:\nwant\n%s\ngot\n%s", name, want, out.String())
		}
	})
}

// FuzzRewriteAnyScript: any bytes at all are rewritten or refused, never a panic; nothing asked
// changes nothing.
func FuzzRewriteAnyScript(f *testing.F) {
	in, _ := scriptFor("seed")
	f.Add([]byte(in))
	f.Add([]byte(dumped))
	f.Fuzz(func(t *testing.T, script []byte) {
		var out bytes.Buffer
		if err := (Rewrite{ServerVersion: 101119}).Copy(&out, bytes.NewReader(script)); err == nil && !bytes.Equal(out.Bytes(), script) {
			t.Fatalf("a rewrite without edits changed the script")
		}
		_ = both.Copy(&bytes.Buffer{}, bytes.NewReader(script))
	})
}
