// Package sqlscript reads SQL scripts the way the mariadb/mysql client and the server read them:
// Scanner finds the statements the client would send (quotes, comments, executable comments,
// DELIMITER lines, the server's NO_BACKSLASH_ESCAPES), Lex cuts one statement into the server's
// tokens. The import changes a dump only through them, so a name, a string or a comment in the
// dump stays what the server takes it for: a name can never become SQL.
package sqlscript

import (
	"bytes"
	"errors"
)

// Kind is what a token is to the server.
type Kind int

const (
	// Space is whitespace.
	Space Kind = iota
	// Comment is a comment the server skips: "-- ", "#" to the line's end, or /* ... */.
	Comment
	// OpenExec opens an executable comment (/*!50003, /*M!100101, /*!): its content is SQL.
	OpenExec
	// CloseExec closes an executable comment.
	CloseExec
	// Ident is a backtick-quoted identifier.
	Ident
	// String is a quoted string ('...' or "...").
	String
	// Word is an unquoted keyword, identifier or number.
	Word
	// Punct is any other single byte.
	Punct
)

// Token is a run of a statement's bytes, [Start, End).
type Token struct {
	Kind       Kind
	Start, End int
}

// ErrUnsupported: the statement holds something Lex does not follow exactly (an optimizer hint,
// a comment inside an executable comment, an unterminated quote or comment); its caller then
// changes nothing in it.
var ErrUnsupported = errors.New("sqlscript: a construct the lexer does not follow")

// Lex cuts a statement (without its delimiter) into tokens as the server reads it;
// noBackslashEscapes is the session's NO_BACKSLASH_ESCAPES.
func Lex(text []byte, noBackslashEscapes bool) ([]Token, error) {
	return lex(text, noBackslashEscapes, -1)
}

// Leading is a statement's first n significant tokens (fewer when it has fewer, or when what
// comes before them is not followed); text may be the statement's head only.
func Leading(text []byte, noBackslashEscapes bool, n int) []Token {
	tokens, _ := lex(text, noBackslashEscapes, n)
	return Significant(tokens)
}

// lex stops once it has limit significant tokens (never when limit < 0).
func lex(text []byte, noBackslashEscapes bool, limit int) ([]Token, error) {
	var tokens []Token
	inExec := false
	significant := 0
	for i := 0; i < len(text) && significant != limit; {
		start := i
		c := text[i]
		var kind Kind
		switch {
		case isSpace(c):
			for i < len(text) && isSpace(text[i]) {
				i++
			}
			kind = Space
		case c == '#' || (c == '-' && i+1 < len(text) && text[i+1] == '-' && (i+2 == len(text) || isSpace(text[i+2]) || text[i+2] < 0x20)):
			end := bytes.IndexByte(text[i:], '\n')
			if end < 0 {
				i = len(text)
			} else {
				i += end + 1
			}
			kind = Comment
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			rest := text[i+2:]
			switch {
			case inExec:
				return tokens, ErrUnsupported
			case bytes.HasPrefix(rest, []byte("!")) || bytes.HasPrefix(rest, []byte("M!")):
				i += 2 + bytes.IndexByte(rest, '!') + 1
				for i < len(text) && text[i] >= '0' && text[i] <= '9' {
					i++
				}
				inExec, kind = true, OpenExec
			case bytes.HasPrefix(rest, []byte("+")):
				return tokens, ErrUnsupported
			default:
				end := bytes.Index(rest, []byte("*/"))
				if end < 0 {
					return tokens, ErrUnsupported
				}
				i += 2 + end + 2
				kind = Comment
			}
		case c == '*' && inExec && i+1 < len(text) && text[i+1] == '/':
			i += 2
			inExec, kind = false, CloseExec
		case c == '`':
			end, ok := closeQuote(text, i, '`', false)
			if !ok {
				return tokens, ErrUnsupported
			}
			i, kind = end, Ident
		case c == '\'' || c == '"':
			end, ok := closeQuote(text, i, c, !noBackslashEscapes)
			if !ok {
				return tokens, ErrUnsupported
			}
			i, kind = end, String
		case isWordByte(c):
			for i < len(text) && isWordByte(text[i]) {
				i++
			}
			kind = Word
		default:
			i++
			kind = Punct
		}
		tokens = append(tokens, Token{Kind: kind, Start: start, End: i})
		if kind >= Ident {
			significant++
		}
	}
	if inExec && significant != limit {
		return tokens, ErrUnsupported
	}
	return tokens, nil
}

// closeQuote finds the end of the quoted run opened at text[at]: a doubled quote is one quote
// character, and a backslash escapes the next byte where backslashes escape.
func closeQuote(text []byte, at int, quote byte, backslashes bool) (int, bool) {
	for i := at + 1; i < len(text); i++ {
		switch {
		case backslashes && text[i] == '\\':
			i++
		case text[i] == quote:
			if i+1 < len(text) && text[i+1] == quote {
				i++
				continue
			}
			return i + 1, true
		}
	}
	return 0, false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// Significant are the tokens that carry meaning: not spaces, comments, or the markers of
// executable comments (whose content the server runs as if they were not there).
func Significant(tokens []Token) []Token {
	var kept []Token
	for _, t := range tokens {
		switch t.Kind {
		case Space, Comment, OpenExec, CloseExec:
		default:
			kept = append(kept, t)
		}
	}
	return kept
}

// IsWord says whether t is the unquoted word w (any letter case).
func IsWord(text []byte, t Token, w string) bool {
	return t.Kind == Word && bytes.EqualFold(text[t.Start:t.End], []byte(w))
}

// IsPunct says whether t is the single byte p.
func IsPunct(text []byte, t Token, p byte) bool {
	return t.Kind == Punct && text[t.Start] == p
}

// Unquote is an identifier token's name: the backticks removed, doubled backticks made single.
func Unquote(text []byte, t Token) string {
	inner := text[t.Start+1 : t.End-1]
	return string(bytes.ReplaceAll(inner, []byte("``"), []byte("`")))
}
