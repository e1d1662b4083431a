package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestPlain: RFC 4616 messages against Kafka's rules, including the
// impersonation of CVE-2017-12610.
func TestPlain(t *testing.T) {
	p := NewPlain(map[string]string{"admin": "admin-secret", "alice": "alice-secret"})
	tests := []struct {
		token string
		user  string // "" when refused
		err   string
	}{
		{token: "\x00alice\x00alice-secret", user: "alice"},
		{token: "alice\x00alice\x00alice-secret", user: "alice"}, // authzid equal to the user is allowed
		{token: "\x00alice\x00admin-secret", err: "Invalid username or password"},
		{token: "\x00alice\x00alice-secre", err: "Invalid username or password"},
		{token: "\x00mallory\x00alice-secret", err: "Invalid username or password"},
		{token: "admin\x00alice\x00alice-secret", err: "authorization id that is different from username"},
		{token: "\x00\x00alice-secret", err: "username not specified"},
		{token: "\x00alice\x00", err: "password not specified"},
		{token: "alice\x00alice-secret", err: "expected 3 tokens, got 2"},
		{token: "\x00alice\x00alice-secret\x00", err: "expected 3 tokens, got 4"},
		{token: "", err: "expected 3 tokens, got 1"},
	}
	for _, tt := range tests {
		x := p.Start()
		challenge, done, err := x.Step([]byte(tt.token))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, kerr.SaslAuthenticationFailed) || done {
				t.Errorf("Step(%q) = %v, %v; want SASL_AUTHENTICATION_FAILED %q", tt.token, done, err, tt.err)
			}
			continue
		}
		if err != nil || !done || x.User() != tt.user || challenge == nil || len(challenge) != 0 {
			t.Errorf("Step(%q) = %q, %v, %v, user %q; want user %q", tt.token, challenge, done, err, x.User(), tt.user)
		}
		if _, _, err := x.Step([]byte(tt.token)); !errors.Is(err, kerr.IllegalSaslState) {
			t.Errorf("a second PLAIN message: %v, want ILLEGAL_SASL_STATE", err)
		}
	}
}

// TestPlainFromJAAS: users come from user_<name> options only; username
// and password are the broker's own client credentials.
func TestPlainFromJAAS(t *testing.T) {
	m, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlainFromJAAS(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.users) != 2 || !p.check("alice", []byte("alice-secret")) || p.check("username", []byte("admin")) {
		t.Errorf("users %v", p.users)
	}
	if _, err := PlainFromJAAS(LoginModule{Options: map[string]string{"username": "a"}}); err == nil {
		t.Errorf("a module without users was accepted")
	}
	if _, err := PlainFromJAAS(LoginModule{Options: map[string]string{"user_": "a"}}); err == nil {
		t.Errorf("user_ without a name was accepted")
	}
}

// FuzzPlain: whatever the message, PLAIN authenticates only with a user's
// own password and, if an authorization id is given, the same user; it
// never panics.
func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00alice-secret"))
	f.Add([]byte("admin\x00alice\x00alice-secret"))
	f.Add([]byte("\x00\x00"))
	p := NewPlain(map[string]string{"alice": "alice-secret", "bob": ""})
	f.Fuzz(func(t *testing.T, token []byte) {
		x := p.Start()
		_, done, err := x.Step(token)
		if done != (err == nil) {
			t.Fatalf("done %v with error %v", done, err)
		}
		if !done {
			return
		}
		ok := string(token) == "\x00alice\x00alice-secret" || string(token) == "alice\x00alice\x00alice-secret"
		if !ok || x.User() != "alice" {
			t.Fatalf("%q authenticated as %q", token, x.User())
		}
	})
}
