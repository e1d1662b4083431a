package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// jaasOptionsMax bounds the options of one login module: a PLAIN module
// lists its users, a few hundred at most.
const jaasOptionsMax = 10_000

// LoginModule is one entry of a JAAS configuration: the login module's
// class, its control flag and its options.
type LoginModule struct {
	Class   string
	Flag    string // required, requisite, sufficient or optional, lower-cased
	Options map[string]string
}

// jaasFlags are JAAS's control flags.
var jaasFlags = []string{"required", "requisite", "sufficient", "optional"}

// ParseJAAS parses the value of sasl.jaas.config, e.g.
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="admin" password="admin-secret" user_alice="alice-secret";
//
// with the syntax Kafka's JaasConfig reads (java.io.StreamTokenizer's):
// words of letters, digits and . - _ $; values as words or in double or
// single quotes with backslash escapes; // and /* */ comments. A broker's
// property holds exactly one login module, as in Kafka.
func ParseJAAS(text string) (LoginModule, error) {
	lx := jaasLexer{s: text}
	var modules []LoginModule
	for {
		tok, err := lx.next()
		if err != nil {
			return LoginModule{}, err
		}
		if tok.kind == tokEOF {
			break
		}
		m, err := lx.module(tok)
		if err != nil {
			return LoginModule{}, err
		}
		modules = append(modules, m)
	}
	if len(modules) != 1 {
		return LoginModule{}, fmt.Errorf("JAAS config property contains %d login modules, should be 1 module", len(modules))
	}
	return modules[0], nil
}

// module parses one "Class flag key=value ... ;" entry whose first token
// was already read.
func (lx *jaasLexer) module(first jaasToken) (LoginModule, error) {
	if first.kind != tokWord {
		return LoginModule{}, fmt.Errorf("JAAS config: expected a login module class, found %s", first)
	}
	m := LoginModule{Class: first.text, Options: map[string]string{}}
	flag, err := lx.next()
	if err != nil {
		return m, err
	}
	m.Flag = strings.ToLower(flag.text)
	if flag.kind != tokWord || !slices.Contains(jaasFlags, m.Flag) {
		return m, fmt.Errorf("JAAS config: invalid control flag %s for %s", flag, m.Class)
	}
	for {
		tok, err := lx.next()
		if err != nil {
			return m, err
		}
		if tok.kind == tokPunct && tok.text == ";" {
			return m, nil
		}
		if tok.kind != tokWord {
			return m, fmt.Errorf("JAAS config: expected an option name or ';' after %s, found %s", m.Class, tok)
		}
		if eq, err := lx.next(); err != nil {
			return m, err
		} else if eq.kind != tokPunct || eq.text != "=" {
			return m, fmt.Errorf("JAAS config: expected '=' after option %s, found %s", tok.text, eq)
		}
		value, err := lx.next()
		if err != nil {
			return m, err
		}
		if value.kind != tokWord && value.kind != tokQuoted {
			return m, fmt.Errorf("JAAS config: value not specified for option %s", tok.text)
		}
		if len(m.Options) >= jaasOptionsMax {
			return m, fmt.Errorf("JAAS config: more than %d options", jaasOptionsMax)
		}
		m.Options[tok.text] = value.text
	}
}

// jaasTokenKind classifies a token.
type jaasTokenKind int

const (
	tokEOF jaasTokenKind = iota
	tokWord
	tokQuoted
	tokPunct // one other character: '=', ';', ...
)

type jaasToken struct {
	kind jaasTokenKind
	text string
}

func (t jaasToken) String() string {
	switch t.kind {
	case tokEOF:
		return "the end"
	case tokQuoted:
		return "a quoted string"
	}
	return fmt.Sprintf("%q", t.text)
}

// jaasLexer splits a JAAS configuration into tokens.
type jaasLexer struct {
	s   string
	pos int
}

var errJAASComment = errors.New("JAAS config: unterminated /* comment")

// next returns the next token, skipping white space and comments.
func (lx *jaasLexer) next() (jaasToken, error) {
	if err := lx.skipSpace(); err != nil {
		return jaasToken{}, err
	}
	if lx.pos >= len(lx.s) {
		return jaasToken{kind: tokEOF}, nil
	}
	c := lx.s[lx.pos]
	switch {
	case isJAASWordByte(c):
		start := lx.pos
		for lx.pos < len(lx.s) && isJAASWordByte(lx.s[lx.pos]) {
			lx.pos++
		}
		return jaasToken{kind: tokWord, text: lx.s[start:lx.pos]}, nil
	case c == '"' || c == '\'':
		return lx.quoted(c)
	}
	lx.pos++
	return jaasToken{kind: tokPunct, text: string(c)}, nil
}

// skipSpace skips white space and // and /* */ comments.
func (lx *jaasLexer) skipSpace() error {
	for lx.pos < len(lx.s) {
		rest := lx.s[lx.pos:]
		switch {
		case rest[0] <= ' ':
			lx.pos++
		case strings.HasPrefix(rest, "//"):
			end := strings.IndexAny(rest, "\r\n")
			if end < 0 {
				end = len(rest)
			}
			lx.pos += end
		case strings.HasPrefix(rest, "/*"):
			end := strings.Index(rest[2:], "*/")
			if end < 0 {
				return errJAASComment
			}
			lx.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

// quoted reads a string quoted by q with StreamTokenizer's escapes:
// \n \t \r \b \f \a \v, octal \ooo, and a backslash before any other
// character stands for that character.
func (lx *jaasLexer) quoted(q byte) (jaasToken, error) {
	var sb strings.Builder
	lx.pos++ // opening quote
	for lx.pos < len(lx.s) {
		c := lx.s[lx.pos]
		lx.pos++
		switch {
		case c == q:
			return jaasToken{kind: tokQuoted, text: sb.String()}, nil
		case c == '\n' || c == '\r':
			return jaasToken{}, errors.New("JAAS config: a quoted value ends at the end of a line without its closing quote")
		case c == '\\' && lx.pos < len(lx.s):
			sb.WriteByte(lx.escape())
		default:
			sb.WriteByte(c)
		}
	}
	return jaasToken{}, errors.New("JAAS config: a quoted value has no closing quote")
}

// escape decodes the escape after a backslash.
func (lx *jaasLexer) escape() byte {
	c := lx.s[lx.pos]
	lx.pos++
	switch c {
	case 'a':
		return 7
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	if c < '0' || c > '7' {
		return c
	}
	// Up to three octal digits, the value below 256 as in Java.
	n := int(c - '0')
	limit := 2
	if c > '3' {
		limit = 1
	}
	for ; limit > 0 && lx.pos < len(lx.s) && lx.s[lx.pos] >= '0' && lx.s[lx.pos] <= '7'; limit-- {
		n = n*8 + int(lx.s[lx.pos]-'0')
		lx.pos++
	}
	return byte(n)
}

// isJAASWordByte reports whether c may be part of an unquoted word.
func isJAASWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '_' || c == '$' || c >= 0x80
}
