package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// plainUserPrefix marks a PLAIN user in the JAAS options, as Kafka's
// PlainLoginModule reads them: user_<name>="<password>".
const plainUserPrefix = "user_"

// Plain is the server side of SASL/PLAIN (RFC 4616) with the users of a
// JAAS configuration, as Kafka's PlainServerCallbackHandler checks them.
// Passwords are kept as SHA-256 digests and compared in constant time
// (CVE-2021-38153), and an unknown user costs the same comparison, so
// timing tells neither a password's bytes nor whether a user exists.
type Plain struct {
	users map[string][sha256.Size]byte // user name to password digest
}

// PlainFromJAAS reads the users of a PlainLoginModule entry.
func PlainFromJAAS(m LoginModule) (*Plain, error) {
	users := map[string]string{}
	for k, v := range m.Options {
		if name, ok := strings.CutPrefix(k, plainUserPrefix); ok {
			if name == "" {
				return nil, errors.New("PLAIN user option user_ has no user name")
			}
			users[name] = v
		}
	}
	if len(users) == 0 {
		return nil, errors.New("PLAIN login module lists no users (user_<name>=\"<password>\")")
	}
	return NewPlain(users), nil
}

// NewPlain returns PLAIN with users (name to password).
func NewPlain(users map[string]string) *Plain {
	p := &Plain{users: make(map[string][sha256.Size]byte, len(users))}
	for name, password := range users {
		p.users[name] = sha256.Sum256([]byte(password))
	}
	return p
}

// Name is "PLAIN".
func (p *Plain) Name() string { return mechanismPlain }

// Start begins one client's exchange: PLAIN takes one message.
func (p *Plain) Start() Exchange { return &plainExchange{p: p} }

// check reports whether password is user's, in time that depends on
// neither.
func (p *Plain) check(user string, password []byte) bool {
	want, known := p.users[user]
	got := sha256.Sum256(password)
	equal := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return equal && known
}

// plainExchange is one PLAIN authentication.
type plainExchange struct {
	p    *Plain
	user string
	done bool
}

// errPlain wraps every PLAIN failure, with Kafka's messages.
func errPlain(msg string) error {
	return fmt.Errorf("%w: Authentication failed: %s", kerr.SaslAuthenticationFailed, msg)
}

// Step checks the client's one message, authzid NUL authcid NUL passwd.
func (x *plainExchange) Step(token []byte) ([]byte, bool, error) {
	if x.done {
		return nil, false, fmt.Errorf("%w: PLAIN takes a single message", kerr.IllegalSaslState)
	}
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		return nil, false, fmt.Errorf("%w: Invalid SASL/PLAIN response: expected 3 tokens, got %d", kerr.SaslAuthenticationFailed, len(parts))
	}
	authzid, user, password := string(parts[0]), string(parts[1]), parts[2]
	switch {
	case user == "":
		return nil, false, errPlain("username not specified")
	case len(password) == 0:
		return nil, false, errPlain("password not specified")
	case !x.p.check(user, password):
		return nil, false, errPlain("Invalid username or password")
	case authzid != "" && authzid != user:
		// CVE-2017-12610: a user may not act as another.
		return nil, false, errPlain("Client requested an authorization id that is different from username")
	}
	x.user, x.done = user, true
	return []byte{}, true, nil
}

// User is the authenticated user.
func (x *plainExchange) User() string { return x.user }
