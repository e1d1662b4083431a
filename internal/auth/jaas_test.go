package auth

import (
	"maps"
	"strings"
	"testing"
)

// TestParseJAAS: Kafka's documented forms parse to the same options Java's
// StreamTokenizer-based JaasConfig reads, and malformed lines are refused.
func TestParseJAAS(t *testing.T) {
	tests := []struct {
		text    string
		class   string
		flag    string
		options map[string]string
		err     string
	}{
		{
			text:  `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`,
			class: plainLoginModule, flag: "required",
			options: map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret"},
		},
		{
			// Line breaks, comments, single quotes, unquoted words and
			// escapes, a flag in capitals.
			text: "org.apache.kafka.common.security.plain.PlainLoginModule REQUIRED // the users\n" +
				"  /* a block\n comment */ user_bob='b\\\"o;b' user_carol=c4r0l.x-y_$ user_dave=\"tab\\tnl\\nq\\\"oct\\101\" ;",
			class: plainLoginModule, flag: "required",
			options: map[string]string{"user_bob": `b"o;b`, "user_carol": "c4r0l.x-y_$", "user_dave": "tab\tnl\nq\"octA"},
		},
		{text: `a.B optional;`, class: "a.B", flag: "optional", options: map[string]string{}},
		{text: `a.B required`, err: "expected an option name or ';'"},
		{text: `a.B mandatory;`, err: "invalid control flag"},
		{text: `a.B required user_a "x";`, err: "expected '='"},
		{text: `a.B required user_a=;`, err: "value not specified"},
		{text: `a.B required user_a="x;`, err: "no closing quote"},
		{text: "a.B required user_a=\"x\ny\";", err: "end of a line"},
		{text: `a.B required /* never closed`, err: "unterminated"},
		{text: ``, err: "contains 0 login modules"},
		{text: `a.B required; c.D required;`, err: "contains 2 login modules"},
		{text: `"a.B" required;`, err: "expected a login module class"},
	}
	for _, tt := range tests {
		m, err := ParseJAAS(tt.text)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseJAAS(%q) error = %v, want %q", tt.text, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseJAAS(%q): %v", tt.text, err)
			continue
		}
		if m.Class != tt.class || m.Flag != tt.flag || !maps.Equal(m.Options, tt.options) {
			t.Errorf("ParseJAAS(%q) = %+v, want %s %s %v", tt.text, m, tt.class, tt.flag, tt.options)
		}
	}
}

// FuzzParseJAAS: any input parses or fails, never panics, and what parses
// has a class and a known flag.
func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b";`)
	f.Add(`a required x='\777' /* c */ ;`)
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseJAAS(text)
		if err == nil && (m.Class == "" || m.Flag == "") {
			t.Fatalf("ParseJAAS(%q) = %+v without error", text, m)
		}
	})
}
