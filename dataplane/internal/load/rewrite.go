package load

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strings"
)

// Rewrite is what the import changes in the dump's SQL on its way to the client.
type Rewrite struct {
	// StripDefiners drops DEFINER=`user`@`host` from definitions (never from rows): views,
	// triggers and routines are then created for the importing account, whose definers may not
	// exist on the destination.
	StripDefiners bool
	// DeferIndexes takes the secondary indexes of a table with a primary key out of its CREATE
	// TABLE and adds them back by one ALTER TABLE once its rows are in, so InnoDB builds each by
	// sorting instead of inserting into it row by row (a quarter less import time on bench/'s
	// dataset). Tables with foreign keys, FULLTEXT or SPATIAL indexes, no primary key (InnoDB would
	// cluster on a unique key), system versioning, an AUTO_INCREMENT column that does not lead the
	// primary key, or a name that holds a newline are left as dumped.
	DeferIndexes bool
	// DropTableLocks leaves out the dump's "LOCK TABLES `t` WRITE;" before each table's rows: the
	// lock holds the database's metadata lock for the whole table, so another stream's CREATE
	// DATABASE IF NOT EXISTS for the same database waited until those rows were all in (seen for
	// 7 s in bench/'s import). Each INSERT commits on its own either way. (The UNLOCK TABLES after
	// the rows stays: alone it does nothing.)
	DropTableLocks bool
}

// maxLine is the longest line the rewrite holds whole; longer ones (a row's INSERT with a large
// BLOB) pass through in pieces, untouched.
const maxLine = 64 << 20

var definer = regexp.MustCompile("DEFINER=`[^`]*`@`[^`]*`")

var (
	keyLine     = regexp.MustCompile("^  (UNIQUE )?KEY `")
	unsafeLine  = regexp.MustCompile("^  (CONSTRAINT|FULLTEXT|SPATIAL|FOREIGN)")
	createTable = []byte("CREATE TABLE `")
)

type rewriter struct {
	Rewrite
	out *bufio.Writer
	// Rows: the dump writes one row a line, the statement's last row ending in ");".
	inInsert bool
	// The CREATE TABLE being read, held until its closing line.
	inCreate                 bool
	table                    []byte
	lines                    [][]byte
	hasPrimary, unsafe       bool
	autoColumn, primaryFirst string
	pending                  []byte // the ALTER TABLE adding the deferred keys, once the rows are in
}

// Copy writes src to dst with the rewrite applied.
func (r Rewrite) Copy(dst io.Writer, src io.Reader) error {
	w := &rewriter{Rewrite: r, out: bufio.NewWriterSize(dst, 256<<10)}
	in := bufio.NewReaderSize(src, 1<<20)
	var long []byte
	for {
		piece, err := in.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gathered up to maxLine, then passed through as it comes.
			if len(long)+len(piece) <= maxLine {
				long = append(long, piece...)
				continue
			}
			if long != nil {
				if _, werr := w.out.Write(long); werr != nil {
					return werr
				}
				long = nil
			}
			if _, werr := w.out.Write(piece); werr != nil {
				return werr
			}
			for err == bufio.ErrBufferFull {
				piece, err = in.ReadSlice('\n')
				if _, werr := w.out.Write(piece); werr != nil {
					return werr
				}
			}
			if err != nil && err != io.EOF {
				return err
			}
			if err == io.EOF {
				break
			}
			continue
		}
		line := piece
		if long != nil {
			line = append(long, piece...)
			long = nil
		}
		if len(line) > 0 {
			if werr := w.line(line); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := w.flushAlter(); err != nil {
		return err
	}
	return w.out.Flush()
}

func (w *rewriter) write(b []byte) error {
	_, err := w.out.Write(b)
	return err
}

func (w *rewriter) flushAlter() error {
	if w.pending == nil {
		return nil
	}
	err := w.write(append(w.pending, ";\n"...))
	w.pending = nil
	return err
}

// line takes one whole line, its newline included (the last line may have none).
func (w *rewriter) line(raw []byte) error {
	text := bytes.TrimSuffix(raw, []byte("\n"))
	if w.StripDefiners {
		if bytes.HasPrefix(text, []byte("INSERT INTO ")) {
			w.inInsert = true
		}
		if w.inInsert {
			if bytes.HasSuffix(text, []byte(");")) {
				w.inInsert = false
			}
		} else if loc := definer.FindIndex(text); loc != nil {
			// The first DEFINER clause of the line, as the dump writes one a statement.
			stripped := append(append(append([]byte{}, text[:loc[0]]...), text[loc[1]:]...), '\n')
			raw, text = stripped, stripped[:len(stripped)-1]
		}
	}
	if w.DropTableLocks && bytes.HasPrefix(text, []byte("LOCK TABLES `")) && bytes.HasSuffix(text, []byte("` WRITE;")) {
		return nil
	}
	if !w.DeferIndexes {
		return w.write(raw)
	}
	switch {
	case bytes.HasPrefix(text, createTable) && bytes.HasSuffix(text, []byte(" (")):
		// A name with a newline in it spans lines and never gets here whole: left as dumped.
		if err := w.flushAlter(); err != nil {
			return err
		}
		w.inCreate, w.lines = true, nil
		w.table = bytes.TrimSuffix(bytes.TrimPrefix(text, []byte("CREATE TABLE ")), []byte(" ("))
		w.table = append([]byte{}, w.table...)
		return w.write(raw)
	case w.inCreate && bytes.HasPrefix(text, []byte(") ")):
		return w.endCreate(raw, text)
	case w.inCreate:
		w.collect(text)
		return nil
	case bytes.Equal(text, []byte("UNLOCK TABLES;")):
		if err := w.write(raw); err != nil {
			return err
		}
		return w.flushAlter()
	case bytes.HasPrefix(text, []byte("-- Table structure for table ")),
		bytes.HasPrefix(text, []byte("DROP TABLE IF EXISTS ")),
		bytes.HasPrefix(text, []byte("/*!50003 CREATE*/ ")):
		if err := w.flushAlter(); err != nil {
			return err
		}
	}
	return w.write(raw)
}

func (w *rewriter) collect(text []byte) {
	line := append([]byte{}, text...)
	w.lines = append(w.lines, line)
	s := string(line)
	if len(s) < 2 || s[:2] != "  " {
		w.unsafe = true
	}
	if rest, ok := strings.CutPrefix(s, "  PRIMARY KEY ("); ok {
		w.hasPrimary = true
		if i := strings.IndexAny(rest, ",("); i >= 0 {
			rest = rest[:i]
		}
		w.primaryFirst = strings.TrimSuffix(rest, ")")
	}
	if unsafeLine.MatchString(s) {
		w.unsafe = true
	}
	if len(s) > 3 && s[:3] == "  `" && strings.Contains(s, " AUTO_INCREMENT") {
		column := s[2:]
		if i := strings.Index(column, "` "); i >= 0 {
			column = column[:i+1]
		}
		w.autoColumn = column
	}
}

func (w *rewriter) endCreate(raw, closing []byte) error {
	w.inCreate = false
	deferrable := w.hasPrimary && !w.unsafe && (w.autoColumn == "" || w.primaryFirst == w.autoColumn) &&
		!bytes.Contains(closing, []byte("WITH SYSTEM VERSIONING"))
	var kept [][]byte
	for _, line := range w.lines {
		if deferrable && keyLine.Match(line) {
			key := bytes.TrimRight(bytes.TrimLeft(line, " "), ",")
			if w.pending == nil {
				w.pending = append(append([]byte("ALTER TABLE "), w.table...), ' ')
			} else {
				w.pending = append(w.pending, ", "...)
			}
			w.pending = append(append(w.pending, "ADD "...), key...)
		} else {
			kept = append(kept, line)
		}
	}
	for i, line := range kept {
		if i == len(kept)-1 {
			line = bytes.TrimSuffix(line, []byte(","))
		}
		if err := w.write(append(line, '\n')); err != nil {
			return err
		}
	}
	w.hasPrimary, w.unsafe, w.autoColumn, w.primaryFirst, w.lines = false, false, "", "", nil
	return w.write(raw)
}
