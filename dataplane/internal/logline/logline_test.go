package logline

import (
	"strings"
	"testing"
	"unicode"
)

func TestEveryControlCharacterIsEscaped(t *testing.T) {
	var specials []rune
	for r := rune(0); r <= 0x10ffff; r++ {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' {
			specials = append(specials, r)
		}
	}
	if len(specials) != 65+2+5+4+2 {
		t.Fatalf("want 78 characters to escape, found %d", len(specials))
	}
	for _, r := range specials {
		got := Escape("a" + string(r) + "b")
		for _, c := range got {
			if c == r {
				t.Fatalf("%U stayed in %q", r, got)
			}
		}
		if !strings.HasPrefix(got, `a\`) || !strings.HasSuffix(got, "b") {
			t.Fatalf("%U: %q", r, got)
		}
	}
}

func TestEscapeKeepsTextAndIsStable(t *testing.T) {
	for in, want := range map[string]string{
		"plain `name` 商品 😀":                      "plain `name` 商品 😀",
		"x\n2026-12-05T00:00:00Z ferry-dump: ok": `x\n2026-12-05T00:00:00Z ferry-dump: ok`,
		"a\r\tb\x1b[2Jc\x7f":                     `a\r\tb\x1b[2Jc\x7f`,
		"\u2028\u202e\u0085":                     `\u2028\u202e\u0085`,
		"bad \xff byte":                          `bad \xff byte`,
	} {
		got := Escape(in)
		if got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if again := Escape(got); again != got {
			t.Errorf("escaping %q twice changed it: %q", in, again)
		}
		if strings.ContainsAny(got, "\n\r") {
			t.Errorf("%q holds a line break", got)
		}
	}
}
