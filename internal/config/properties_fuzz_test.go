package config

import (
	"strings"
	"testing"
)

// FuzzParseProperties checks that no input panics, that line numbers only
// grow, and that every parsed property survives being escaped, written and
// parsed again.
func FuzzParseProperties(f *testing.F) {
	seeds := []string{
		"",
		"a=b\n# comment\n! bang\nc : d\ne f",
		"a=one, \\\n  two\\\n",
		`k\ e\=y=\t\u0041\uD83D\uDE00\`,
		"a=\\u12",
		"x\r\ny\rz\\\r\n w",
		"  =  \n:\n\\",
		"a=b\\ \t ",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		props, err := parseProperties(data)
		if err != nil {
			return
		}
		lastLine := 0
		for _, p := range props {
			if p.Line <= lastLine {
				t.Fatalf("line %d after line %d", p.Line, lastLine)
			}
			lastLine = p.Line
			again, err := parseProperties(escapeProperty(p.Key) + "=" + escapeProperty(p.Value))
			if err != nil {
				t.Fatalf("re-parsing %q=%q: %v", p.Key, p.Value, err)
			}
			if len(again) != 1 || again[0].Key != p.Key || again[0].Value != p.Value {
				t.Fatalf("round trip of %q=%q gave %+v", p.Key, p.Value, again)
			}
		}
	})
}

// escapeProperty writes s so that parseProperties reads it back exactly:
// every character that separates, comments, continues or trims is escaped.
func escapeProperty(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ' ', '=', ':', '#', '!':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
