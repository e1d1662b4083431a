package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/xdg-go/scram"
)

// SCRAM (RFC 5802, RFC 7677) as Kafka's ScramSaslServer serves it: the
// broker stores, per user and mechanism, a salt, an iteration count and
// the two keys derived from the salted password (StoredKey, ServerKey),
// never the password or the salted password, which would let whoever
// reads the metadata log log in. xdg-go/scram parses client-first and
// builds server-first (its nonce); this file checks the client's messages
// before the library sees them (the library indexes into them without
// checking their shape), verifies client-final itself (see final), and
// adds what Kafka checks beyond RFC 5802: the authorization id must be
// the user (CVE-2017-12610), and the final message must echo the nonce
// the server sent (CVE-2024-56128). Every secret is compared in constant
// time (CVE-2021-38153).

// Kafka's SCRAM mechanisms, by name and by the code the SCRAM credential
// APIs (DescribeUserScramCredentials, AlterUserScramCredentials) use.
const (
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"

	scramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// Iteration bounds Kafka accepts for a SCRAM credential (ScramMechanism's
// minIterations, and the maximum AlterUserScramCredentials allows).
const (
	ScramIterationsMin = 4096
	ScramIterationsMax = 16384
)

// scramMessageBytesMax bounds a client's SCRAM message: user names,
// nonces and proofs are short, and a bound keeps parsing cheap.
const scramMessageBytesMax = 8 << 10

// ScramCredential is what the broker keeps for one user and one SCRAM
// mechanism (RFC 5802 section 3).
type ScramCredential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// ScramLookup finds user's credential for mechanism (SCRAM-SHA-256 or
// SCRAM-SHA-512); ok is false when there is none.
type ScramLookup func(mechanism, user string) (c ScramCredential, ok bool)

// ScramMechanismName is the name of a SCRAM mechanism code of the SCRAM
// credential APIs: 1 is SCRAM-SHA-256, 2 SCRAM-SHA-512.
func ScramMechanismName(code int8) (string, bool) {
	switch code {
	case 1:
		return MechanismScramSHA256, true
	case 2:
		return MechanismScramSHA512, true
	}
	return "", false
}

// ScramMechanismCode is the code of a SCRAM mechanism name, 0 (Kafka's
// UNKNOWN) for any other name.
func ScramMechanismCode(name string) int8 {
	switch name {
	case MechanismScramSHA256:
		return 1
	case MechanismScramSHA512:
		return 2
	}
	return 0
}

// scramHash is the hash of a mechanism, nil for an unknown one.
func scramHash(mechanism string) func() hash.Hash {
	switch mechanism {
	case MechanismScramSHA256:
		return sha256.New
	case MechanismScramSHA512:
		return sha512.New
	}
	return nil
}

// ScramKeys derives StoredKey and ServerKey from a salted password
// (RFC 5802 section 3), as a broker does with what
// AlterUserScramCredentials carries. A salted password of the wrong
// length for the mechanism is refused.
func ScramKeys(mechanism string, saltedPassword []byte) (storedKey, serverKey []byte, err error) {
	h := scramHash(mechanism)
	if h == nil {
		return nil, nil, fmt.Errorf("%w: Unknown SCRAM mechanism %s", kerr.UnsupportedSaslMechanism, mechanism)
	}
	if len(saltedPassword) != h().Size() {
		return nil, nil, fmt.Errorf("%w: a %s salted password has %d bytes, not %d", kerr.UnacceptableCredential, mechanism, h().Size(), len(saltedPassword))
	}
	clientKey := scramHMAC(h, saltedPassword, "Client Key")
	sum := h()
	sum.Write(clientKey)
	return sum.Sum(nil), scramHMAC(h, saltedPassword, "Server Key"), nil
}

// scramHMAC is HMAC(key, msg) with h.
func scramHMAC(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Scram is the server side of one SCRAM mechanism with the broker's
// credentials.
type Scram struct {
	name   string
	hash   scram.HashGeneratorFcn
	lookup ScramLookup
	// decoy answers for users that do not exist, so that the first
	// message does not tell whether a user exists: the exchange fails
	// only at the proof, as for a wrong password.
	decoy [32]byte
	// nonce, when set, makes the server's nonces (tests use RFC 7677's).
	nonce scram.NonceGeneratorFcn
}

// NewScram returns the SCRAM mechanism name (SCRAM-SHA-256 or
// SCRAM-SHA-512) over the credentials lookup finds.
func NewScram(name string, lookup ScramLookup) (*Scram, error) {
	s := &Scram{name: name, lookup: lookup}
	switch name {
	case MechanismScramSHA256:
		s.hash = scram.SHA256
	case MechanismScramSHA512:
		s.hash = scram.SHA512
	default:
		return nil, fmt.Errorf("%s is not a SCRAM mechanism", name)
	}
	rand.Read(s.decoy[:])
	return s, nil
}

// Name is the mechanism's name.
func (s *Scram) Name() string { return s.name }

// Start begins one client's exchange: client-first, then client-final.
func (s *Scram) Start() Exchange { return &scramExchange{s: s} }

// credential is the lookup xdg-go/scram calls with the client-first
// message's user name; an unknown user gets a decoy credential that no
// proof matches.
func (s *Scram) credential(user string) (scram.StoredCredentials, error) {
	c, ok := scramCredential{}, false
	if s.lookup != nil {
		var sc ScramCredential
		sc, ok = s.lookup(s.name, user)
		c = scramCredential(sc)
	}
	if !ok || c.Iterations < ScramIterationsMin {
		salt := scramHMAC(sha256.New, s.decoy[:], "salt "+user)
		return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: ScramIterationsMin},
			StoredKey: scramHMAC(sha256.New, s.decoy[:], "stored "+user)}, nil
	}
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
		StoredKey: c.StoredKey, ServerKey: c.ServerKey}, nil
}

// scramCredential is ScramCredential under another name, for conversion.
type scramCredential ScramCredential

// scramExchange is one SCRAM authentication.
type scramExchange struct {
	s    *Scram
	conv *scram.ServerConversation
	user string
	// What client-final is checked against: the nonce server-first sent
	// (the client's part and the server's), the client's part alone,
	// the gs2 header, the messages the proof signs, and the credential
	// server-first was built from.
	nonce, clientNonce           string
	gs2Header                    string
	clientFirstBare, serverFirst string
	cred                         scram.StoredCredentials
	done                         bool
}

// errScram is every SCRAM failure a client's credentials cause, with
// Kafka's message, which tells no more than that.
var errScram = fmt.Errorf("%w: Authentication failed during authentication due to invalid credentials with SASL mechanism", kerr.SaslAuthenticationFailed)

// errScramMessage is a malformed client message.
func errScramMessage(format string, args ...any) error {
	return fmt.Errorf("%w: Authentication failed: invalid SCRAM message: %s", kerr.SaslAuthenticationFailed, fmt.Sprintf(format, args...))
}

// Step takes the client-first message, then the client-final one.
func (x *scramExchange) Step(token []byte) ([]byte, bool, error) {
	if len(token) > scramMessageBytesMax {
		return nil, false, errScramMessage("%d bytes, more than %d", len(token), scramMessageBytesMax)
	}
	switch {
	case x.done:
		return nil, false, fmt.Errorf("%w: the SCRAM exchange is complete", kerr.IllegalSaslState)
	case x.conv == nil:
		return x.first(string(token))
	default:
		return x.final(string(token))
	}
}

// first answers client-first with server-first.
func (x *scramExchange) first(msg string) ([]byte, bool, error) {
	first, err := ParseScramClientFirst(msg)
	if err != nil {
		return nil, false, err
	}
	if first.AuthzID != "" && first.AuthzID != first.User {
		// CVE-2017-12610: a user may not act as another.
		return nil, false, fmt.Errorf("%w: Authentication failed: Client requested an authorization id that is different from username", kerr.SaslAuthenticationFailed)
	}
	// The library hands the lookup the name as sent; users are stored
	// by their decoded names (a=b,c is sent n=a=3Db=2Cc).
	lookup := func(string) (scram.StoredCredentials, error) {
		c, err := x.s.credential(first.User)
		x.cred = c
		return c, err
	}
	server, err := x.s.hash.NewServer(lookup)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", kerr.SaslAuthenticationFailed, err)
	}
	if x.s.nonce != nil {
		server = server.WithNonceGenerator(x.s.nonce)
	}
	x.conv = server.NewConversation()
	reply, err := x.conv.Step(msg)
	if err != nil {
		return nil, false, errScramMessage("%v", err)
	}
	nonce, _, _ := strings.Cut(strings.TrimPrefix(reply, "r="), ",")
	x.user, x.nonce, x.clientNonce, x.serverFirst = first.User, nonce, first.Nonce, reply
	x.gs2Header = first.gs2Header
	x.clientFirstBare = msg[len(first.gs2Header):]
	return []byte(reply), false, nil
}

// final checks client-final's channel binding, nonce and proof and
// answers server-final. It verifies the proof itself (RFC 5802 section
// 3) rather than through the library, whose exact nonce comparison
// refuses librdkafka: librdkafka (2.0 and later) sends its own nonce
// before the server's in client-final, and Kafka's fix of
// CVE-2024-56128 accepts that; so does this, and nothing else.
func (x *scramExchange) final(msg string) ([]byte, bool, error) {
	x.done = true
	final, err := ParseScramClientFinal(msg)
	if err != nil {
		return nil, false, err
	}
	nonce := []byte(final.Nonce)
	if subtle.ConstantTimeCompare(nonce, []byte(x.nonce)) != 1 &&
		subtle.ConstantTimeCompare(nonce, []byte(x.clientNonce+x.nonce)) != 1 {
		return nil, false, fmt.Errorf("%w: Authentication failed: Invalid client nonce in the final client message.", kerr.SaslAuthenticationFailed)
	}
	if subtle.ConstantTimeCompare(final.ChannelBinding, []byte(x.gs2Header)) != 1 {
		return nil, false, errScram
	}
	h := scramHash(x.s.name)
	withoutProof := msg[:strings.LastIndex(msg, ",p=")]
	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	signature := scramHMAC(h, x.cred.StoredKey, authMessage)
	if len(final.Proof) != len(signature) {
		return nil, false, errScram
	}
	clientKey := make([]byte, len(signature))
	subtle.XORBytes(clientKey, final.Proof, signature)
	sum := h()
	sum.Write(clientKey)
	if subtle.ConstantTimeCompare(sum.Sum(nil), x.cred.StoredKey) != 1 {
		return nil, false, errScram
	}
	verifier := scramHMAC(h, x.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(verifier)), true, nil
}

// User is the authenticated user, once done.
func (x *scramExchange) User() string { return x.user }

// ScramClientFirst is what a client-first message carries.
type ScramClientFirst struct {
	AuthzID string
	User    string // saslname decoded (=2C is ',', =3D is '=')
	Nonce   string

	gs2Header string // as sent: flag, authzid, and both commas
}

// ParseScramClientFirst parses client-first-message (RFC 5802 section 7):
// gs2-header ("n," or "y," then an optional "a=" authzid, then ","),
// "n=" user, ",r=" nonce, then optional extensions. Channel binding
// ("p=") and the reserved "m=" extension are refused.
func ParseScramClientFirst(msg string) (ScramClientFirst, error) {
	var out ScramClientFirst
	fields := strings.Split(msg, ",")
	if len(fields) < 4 {
		return out, errScramMessage("client-first has %d fields, fewer than 4", len(fields))
	}
	switch fields[0] {
	case "n", "y":
	default:
		return out, errScramMessage("client-first's channel binding flag %q is not n or y (channel binding is not supported)", fields[0])
	}
	if fields[1] != "" {
		a, ok := strings.CutPrefix(fields[1], "a=")
		if !ok {
			return out, errScramMessage("client-first's authorization id %q does not start a=", fields[1])
		}
		var err error
		if out.AuthzID, err = decodeSaslName(a); err != nil {
			return out, err
		}
	}
	out.gs2Header = fields[0] + "," + fields[1] + ","
	user, ok := strings.CutPrefix(fields[2], "n=")
	if !ok || user == "" {
		return out, errScramMessage("client-first has no user name (n=)")
	}
	var err error
	if out.User, err = decodeSaslName(user); err != nil {
		return out, err
	}
	if out.Nonce, ok = strings.CutPrefix(fields[3], "r="); !ok || !printableNonce(out.Nonce) {
		return out, errScramMessage("client-first has no valid nonce (r=)")
	}
	return out, nil
}

// decodeSaslName decodes a saslname: '=' only as =2C or =3D.
func decodeSaslName(s string) (string, error) {
	if strings.Count(s, "=") != strings.Count(s, "=2C")+strings.Count(s, "=3D") {
		return "", errScramMessage("a name escapes '=' as other than =2C or =3D")
	}
	return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s), nil
}

// printableNonce reports whether n is a nonce RFC 5802 allows: printable
// ASCII except ','.
func printableNonce(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] > 0x7e || n[i] == ',' {
			return false
		}
	}
	return true
}

// ScramClientFinal is what a client-final message carries.
type ScramClientFinal struct {
	ChannelBinding []byte // c=, decoded
	Nonce          string // r=
	Proof          []byte // p=, decoded
}

// ParseScramClientFinal parses client-final-message (RFC 5802 section
// 7): "c=" channel binding, ",r=" nonce, optional extensions, ",p="
// proof last.
func ParseScramClientFinal(msg string) (ScramClientFinal, error) {
	var out ScramClientFinal
	fields := strings.Split(msg, ",")
	if len(fields) < 3 {
		return out, errScramMessage("client-final has %d fields, fewer than 3", len(fields))
	}
	var err error
	c, ok := strings.CutPrefix(fields[0], "c=")
	if !ok {
		return out, errScramMessage("client-final does not start with c=")
	}
	if out.ChannelBinding, err = base64.StdEncoding.DecodeString(c); err != nil {
		return out, errScramMessage("client-final's channel binding is not base64")
	}
	if out.Nonce, ok = strings.CutPrefix(fields[1], "r="); !ok || !printableNonce(out.Nonce) {
		return out, errScramMessage("client-final has no valid nonce (r=)")
	}
	p, ok := strings.CutPrefix(fields[len(fields)-1], "p=")
	if !ok {
		return out, errScramMessage("client-final does not end with a proof (p=)")
	}
	if out.Proof, err = base64.StdEncoding.DecodeString(p); err != nil {
		return out, errScramMessage("client-final's proof is not base64")
	}
	return out, nil
}
