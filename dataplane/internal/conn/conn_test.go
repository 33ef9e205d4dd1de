package conn

import (
	"strings"
	"testing"
)

func TestClientOptionsEscapeWhatTheClientReadsBack(t *testing.T) {
	text, err := ClientOptions(Settings{Host: "db", Port: "3306", User: `u"s\er`, Password: "p\nw\t\"x\\ #y '"}, MariaDB)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`user="u\"s\\er"`, `password="p\nw\t\"x\\ #y '"`, "protocol=TCP", "skip-ssl"} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("option file lacks %s:\n%s", line, text)
		}
	}
	if strings.Count(text, "\n") != 7 {
		t.Errorf("a value broke a line:\n%s", text)
	}
}

func TestClientOptionsRefuseNUL(t *testing.T) {
	if _, err := ClientOptions(Settings{Host: "db", Port: "1", User: "u", Password: "a\x00b"}, MariaDB); err == nil {
		t.Fatal("a password with NUL was accepted")
	}
}
