package sqlident

import (
	"fmt"
	"strings"
	"testing"
)

var hostile = []string{
	"plain", "it's", `say"hi`, `back\slash`, "tick`tock", "``", "tab\there", "new\nline",
	"with space", "$(id)", "a;DROP DATABASE x", "--", "/*", "*/ FROM DUAL;#",
	"x', (SELECT GROUP_CONCAT(User) FROM mysql.user), 1, 2 /*", "雪", "Ὀδυσσεύς", "SELECT",
	strings.Repeat("z", 64), "`; DROP TABLE t; --",
}

func TestQuoteRoundTrips(t *testing.T) {
	for _, name := range hostile {
		quoted := Quote(name)
		back, rest, err := Unquote(quoted + " tail")
		if err != nil || back != name || rest != " tail" {
			t.Errorf("Quote(%q) = %s reads back as %q, rest %q, err %v", name, quoted, back, rest, err)
		}
		if strings.Count(quoted, "`")%2 != 0 {
			t.Errorf("Quote(%q) = %s has an odd number of backticks", name, quoted)
		}
	}
}

func TestCheckRefusesWhatNoServerHolds(t *testing.T) {
	for _, name := range []string{"", "nul\x00byte", "bad\xffutf8"} {
		if Check(name) == nil {
			t.Errorf("Check(%q) accepted it", name)
		}
	}
	for _, name := range hostile {
		if err := Check(name); err != nil {
			t.Errorf("Check(%q): %v", name, err)
		}
	}
}

// FuzzQuote: whatever the name, its quoted form is one token that reads back as the name, and
// nothing after it is swallowed or added.
func FuzzQuote(f *testing.F) {
	for _, name := range hostile {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		quoted := Quote(name)
		back, rest, err := Unquote(quoted + ".`next`")
		if err != nil {
			t.Fatalf("Quote(%q) = %q does not read back: %v", name, quoted, err)
		}
		if back != name {
			t.Fatalf("Quote(%q) = %q reads back as %q", name, quoted, back)
		}
		if rest != ".`next`" {
			t.Fatalf("Quote(%q) = %q swallows or adds text: rest %q", name, quoted, rest)
		}
	})
}

// Unquote reads back one quoted identifier from the start of text, as the server does: the name
// and the rest of the text after it. The tests hold Quote to being its inverse.
func Unquote(text string) (name, rest string, err error) {
	if !strings.HasPrefix(text, "`") {
		return "", text, fmt.Errorf("not a quoted identifier: %q", text)
	}
	var b strings.Builder
	for i := 1; i < len(text); i++ {
		if text[i] != '`' {
			b.WriteByte(text[i])
			continue
		}
		if i+1 < len(text) && text[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), text[i+1:], nil
	}
	return "", text, fmt.Errorf("unterminated quoted identifier: %q", text)
}

func TestInListHasAPlaceholderANameAndTheNamesAsArguments(t *testing.T) {
	in, args := InList([]string{"a`b", "c'd", "e"})
	if in != "(?,?,?)" || len(args) != 3 || args[0] != "a`b" || args[1] != "c'd" || args[2] != "e" {
		t.Errorf("got %s %q", in, args)
	}
	if in, args := InList([]string{"x"}); in != "(?)" || len(args) != 1 || args[0] != "x" {
		t.Errorf("got %s %q", in, args)
	}
}
