package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestUserCreateFlags(t *testing.T) {
	for _, c := range []struct {
		u    userCreate
		want string // error text, "" for none
	}{
		{userCreate{user: "a", password: "p", mechanism: "scram-sha-512", iterations: 4096}, ""},
		{userCreate{user: "a", password: "p", mechanism: "PLAIN", iterations: 8192}, "is not SCRAM-SHA-256 or SCRAM-SHA-512"},
		{userCreate{user: "a", password: "", mechanism: "SCRAM-SHA-256", iterations: 8192}, "--password is required"},
		{userCreate{user: "a", password: "p", mechanism: "SCRAM-SHA-256", iterations: 16385}, "outside 4096..16384"},
	} {
		up, err := c.u.upsert()
		if c.want == "" {
			if err != nil || up.Mechanism != kadm.ScramSha512 || up.Password != "p" {
				t.Errorf("%+v: %+v %v", c.u, up, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.u, err, c.want)
		}
	}
}

func TestUserOutput(t *testing.T) {
	var buf bytes.Buffer
	users := kadm.DescribedUserSCRAMs{
		"bob":   {User: "bob", CredInfos: []kadm.CredInfo{{Mechanism: kadm.ScramSha512, Iterations: 4096}}},
		"alice": {User: "alice", CredInfos: []kadm.CredInfo{{Mechanism: kadm.ScramSha256, Iterations: 8192}}},
	}
	if err := printUsers(&buf, false, users); err != nil {
		t.Fatal(err)
	}
	want := "USER   MECHANISMS\nalice  SCRAM-SHA-256 (8192 iterations)\nbob    SCRAM-SHA-512 (4096 iterations)\n"
	if buf.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", buf.String(), want)
	}
	err := alterFailure("create", "a", kadm.AlteredUserSCRAMs{"a": {User: "a", Err: kerr.UnacceptableCredential, ErrMessage: "Too few iterations"}}, nil)
	if err == nil || err.Error() != `cannot create user "a": too few iterations (UNACCEPTABLE_CREDENTIAL)` {
		t.Errorf("alterFailure: %v", err)
	}
	if err := alterFailure("create", "a", nil, errors.New("boom")); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("alterFailure of a transport error: %v", err)
	}
}
