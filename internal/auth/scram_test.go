package auth

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/xdg-go/scram"
)

// rfc7677 is RFC 7677 section 3's SCRAM-SHA-256 example.
var rfc7677 = struct {
	user, password, salt, serverNonce string
	clientFirst, serverFirst          string
	clientFinal, serverFinal          string
}{
	user: "user", password: "pencil", salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
	serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
}

// credentialFor derives a stored credential from a password as a
// client's AlterUserScramCredentials would, then as the broker does.
func credentialFor(t testing.TB, mechanism, password string, salt []byte, iterations int) ScramCredential {
	t.Helper()
	h := sha256.New
	if mechanism == MechanismScramSHA512 {
		h = sha512.New
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	stored, server, err := ScramKeys(mechanism, salted)
	if err != nil {
		t.Fatal(err)
	}
	return ScramCredential{Salt: salt, Iterations: iterations, StoredKey: stored, ServerKey: server}
}

// rfcScram is SCRAM-SHA-256 knowing RFC 7677's user, answering with its
// server nonce.
func rfcScram(t testing.TB) *Scram {
	salt, _ := base64.StdEncoding.DecodeString(rfc7677.salt)
	cred := credentialFor(t, MechanismScramSHA256, rfc7677.password, salt, 4096)
	s, err := NewScram(MechanismScramSHA256, func(mech, user string) (ScramCredential, bool) {
		return cred, mech == MechanismScramSHA256 && user == rfc7677.user
	})
	if err != nil {
		t.Fatal(err)
	}
	s.nonce = func() string { return rfc7677.serverNonce }
	return s
}

func TestScramRFC7677(t *testing.T) {
	x := rfcScram(t).Start()
	got, done, err := x.Step([]byte(rfc7677.clientFirst))
	if err != nil || done || string(got) != rfc7677.serverFirst {
		t.Fatalf("server-first = %q, %v, %v; want %q", got, done, err, rfc7677.serverFirst)
	}
	got, done, err = x.Step([]byte(rfc7677.clientFinal))
	if err != nil || !done || string(got) != rfc7677.serverFinal {
		t.Fatalf("server-final = %q, %v, %v; want %q", got, done, err, rfc7677.serverFinal)
	}
	if x.User() != "user" {
		t.Errorf("User = %q", x.User())
	}
	if _, _, err := x.Step([]byte(rfc7677.clientFinal)); !errors.Is(err, kerr.IllegalSaslState) {
		t.Errorf("a third message: %v", err)
	}
}

// refused runs client-first and client-final and returns the error.
func refused(t *testing.T, s *Scram, first, final string) error {
	t.Helper()
	x := s.Start()
	if _, _, err := x.Step([]byte(first)); err != nil {
		return err
	}
	_, done, err := x.Step([]byte(final))
	if done && err == nil {
		t.Fatalf("%q then %q authenticated", first, final)
	}
	return err
}

func TestScramRefusals(t *testing.T) {
	s := rfcScram(t)
	serverNonce := "rOprNGfwEbeRWgbNEkqO" + rfc7677.serverNonce
	for _, c := range []struct {
		name, first, final, want string
	}{
		{"wrong proof", rfc7677.clientFirst,
			"c=biws,r=" + serverNonce + ",p=" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "invalid credentials"},
		// CVE-2024-56128: a final message must echo the server's nonce.
		{"client nonce only", rfc7677.clientFirst, "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "nonce"},
		{"other nonce", rfc7677.clientFirst, "c=biws,r=rOprNGfwEbeRWgbNEkqOxyz,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "nonce"},
		// CVE-2017-12610: user may not act as admin.
		{"authzid", "n,a=admin,n=user,r=rOprNGfwEbeRWgbNEkqO", rfc7677.clientFinal, "authorization id"},
		{"unknown user", "n,,n=eve,r=rOprNGfwEbeRWgbNEkqO", rfc7677.clientFinal, "invalid credentials"},
		{"short proof", rfc7677.clientFirst, "c=biws,r=" + serverNonce + ",p=AAAA", "invalid credentials"},
		{"long proof", rfc7677.clientFirst, "c=biws,r=" + serverNonce + ",p=" + base64.StdEncoding.EncodeToString(make([]byte, 99)), "invalid credentials"},
		{"channel binding", "p=tls-unique,,n=user,r=abc", "", "channel binding"},
		{"empty gs2 flag", ",,n=user,r=abc", "", "channel binding"},
		{"no user", "n,,n=,r=abc", "", "user name"},
		{"bad saslname", "n,,n=us=er,r=abc", "", "escapes"},
		{"extension m", "n,,m=x,r=abc", "", "user name"},
		{"binding differs", rfc7677.clientFirst, "c=eSws,r=" + serverNonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "invalid credentials"},
	} {
		err := refused(t, s, c.first, c.final)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED saying %q", c.name, err, c.want)
		}
	}
	// The authzid may name the user itself.
	x := s.Start()
	if _, _, err := x.Step([]byte("n,a=user,n=user,r=abc")); err != nil {
		t.Errorf("authzid equal to the user: %v", err)
	}
}

// TestScramClients authenticates xdg-go/scram's client with both
// mechanisms, and refuses a wrong password.
func TestScramClients(t *testing.T) {
	for _, mech := range []string{MechanismScramSHA256, MechanismScramSHA512} {
		cred := credentialFor(t, mech, "s3cret", []byte("salt of alice"), 8192)
		s, err := NewScram(mech, func(m, user string) (ScramCredential, bool) { return cred, m == mech && user == "alice" })
		if err != nil {
			t.Fatal(err)
		}
		hash := scram.SHA256
		if mech == MechanismScramSHA512 {
			hash = scram.SHA512
		}
		for _, password := range []string{"s3cret", "wrong"} {
			client, _ := hash.NewClient("alice", password, "")
			conv := client.NewConversation()
			x := s.Start()
			c1, _ := conv.Step("")
			s1, _, err := x.Step([]byte(c1))
			if err != nil {
				t.Fatalf("%s client-first: %v", mech, err)
			}
			c2, err := conv.Step(string(s1))
			if err != nil {
				t.Fatalf("%s server-first: %v", mech, err)
			}
			s2, done, err := x.Step([]byte(c2))
			if ok := password == "s3cret"; ok != (done && err == nil) {
				t.Fatalf("%s password %q: done %v, %v", mech, password, done, err)
			}
			if done {
				if _, err := conv.Step(string(s2)); err != nil || !conv.Valid() {
					t.Errorf("%s: the client refused the server's signature: %v", mech, err)
				}
			}
		}
	}
}

func TestScramKeys(t *testing.T) {
	if _, _, err := ScramKeys("SCRAM-SHA-1", make([]byte, 20)); !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Errorf("SHA-1: %v", err)
	}
	if _, _, err := ScramKeys(MechanismScramSHA512, make([]byte, 32)); !errors.Is(err, kerr.UnacceptableCredential) {
		t.Errorf("short salted password: %v", err)
	}
	for code, name := range map[int8]string{1: MechanismScramSHA256, 2: MechanismScramSHA512} {
		if got, ok := ScramMechanismName(code); !ok || got != name || ScramMechanismCode(name) != code {
			t.Errorf("code %d: %q %v", code, got, ok)
		}
	}
	if _, ok := ScramMechanismName(0); ok || ScramMechanismCode("PLAIN") != 0 {
		t.Error("UNKNOWN is a mechanism")
	}
}

// FuzzScramClientMessages feeds any two client messages to a SCRAM
// exchange: it must answer or refuse, never panic, and never
// authenticate without the password.
func FuzzScramClientMessages(f *testing.F) {
	f.Add(rfc7677.clientFirst, rfc7677.clientFinal)
	f.Add(",,n=user,r=x", "c=,r=,p=")
	f.Add("n,a=admin,n=user,r=x", "c=biws,r=x,p=AAAA")
	f.Add(rfc7677.clientFirst, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="+base64.StdEncoding.EncodeToString(make([]byte, 64)))
	s := rfcScram(f)
	f.Fuzz(func(t *testing.T, first, final string) {
		x := s.Start()
		if _, _, err := x.Step([]byte(first)); err != nil {
			return
		}
		_, done, err := x.Step([]byte(final))
		if done && err == nil && (first != rfc7677.clientFirst || final != rfc7677.clientFinal) {
			// Only the RFC's proof (or one for the same nonce and
			// binding) authenticates; anything else is a forgery.
			if !strings.Contains(final, "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") {
				t.Fatalf("authenticated %q then %q", first, final)
			}
		}
	})
}

// TestScramLibrdkafkaNonce: librdkafka sends its own nonce before the
// server's in client-final; with a proof over that message it
// authenticates, as with Kafka, and with an exact nonce too, while a
// nonce with anything else before the server's is refused.
func TestScramLibrdkafkaNonce(t *testing.T) {
	const clientNonce = "rOprNGfwEbeRWgbNEkqO"
	full := clientNonce + rfc7677.serverNonce
	for _, c := range []struct {
		nonce string
		ok    bool
	}{{full, true}, {clientNonce + full, true}, {"x" + full, false}, {full + full, false}} {
		x := rfcScram(t).Start()
		if _, _, err := x.Step([]byte(rfc7677.clientFirst)); err != nil {
			t.Fatal(err)
		}
		withoutProof := "c=biws,r=" + c.nonce
		salt, _ := base64.StdEncoding.DecodeString(rfc7677.salt)
		salted, _ := pbkdf2.Key(sha256.New, rfc7677.password, salt, 4096, 32)
		clientKey := scramHMAC(sha256.New, salted, "Client Key")
		stored := sha256.Sum256(clientKey)
		auth := "n=user,r=" + clientNonce + "," + rfc7677.serverFirst + "," + withoutProof
		sig := scramHMAC(sha256.New, stored[:], auth)
		proof := make([]byte, 32)
		for i := range proof {
			proof[i] = clientKey[i] ^ sig[i]
		}
		_, done, err := x.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if c.ok != (done && err == nil) {
			t.Errorf("nonce %q: done %v, %v; want ok %v", c.nonce, done, err, c.ok)
		}
	}
}

// TestScramListenerConfig: sasl.enabled.mechanisms enables SCRAM with
// Kafka's JAAS key per listener and mechanism, which must name
// ScramLoginModule; the listener's mechanisms find users through the
// lookup given.
func TestScramListenerConfig(t *testing.T) {
	cred := credentialFor(t, MechanismScramSHA512, "pw", []byte("salt"), 4096)
	lookup := func(mech, user string) (ScramCredential, bool) {
		return cred, mech == MechanismScramSHA512 && user == "u"
	}
	cfg := loadConfig(t, map[string]string{
		"listeners":                      "SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT",
		"sasl.enabled.mechanisms":        "SCRAM-SHA-512,SCRAM-SHA-256",
		"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": scramLoginModule + " required;",
		"listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": scramLoginModule + " required;",
	})
	l, err := NewListener(cfg, "SASL_PLAINTEXT", "SASL_PLAINTEXT", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.SASL.Mechanisms(); len(got) != 2 || got[0] != MechanismScramSHA512 || got[1] != MechanismScramSHA256 {
		t.Fatalf("mechanisms %v", got)
	}
	m, _ := l.SASL.Mechanism(MechanismScramSHA512)
	client, _ := scram.SHA512.NewClient("u", "pw", "")
	conv := client.NewConversation()
	x := m.Start()
	c1, _ := conv.Step("")
	s1, _, err := x.Step([]byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := conv.Step(string(s1))
	if _, done, err := x.Step([]byte(c2)); !done || err != nil || x.User() != "u" {
		t.Fatalf("u through the listener: %v %v", done, err)
	}

	for jaas, want := range map[string]string{
		"": "scram-sha-512.sasl.jaas.config is not set",
		plainLoginModule + ` required user_a="b";`: "is not " + scramLoginModule,
	} {
		cfg := loadConfig(t, map[string]string{
			"listeners":                      "SASL_PLAINTEXT://127.0.0.1:0",
			"listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT",
			"sasl.enabled.mechanisms":        "SCRAM-SHA-512",
			"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": jaas,
		})
		if _, err := NewListener(cfg, "SASL_PLAINTEXT", "SASL_PLAINTEXT", lookup); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("JAAS %q: %v, want %q", jaas, err, want)
		}
	}
}

// TestScramSaslName: a user name with ',' and '=' is sent escaped and
// found by its decoded name.
func TestScramSaslName(t *testing.T) {
	cred := credentialFor(t, MechanismScramSHA256, "pw", []byte("salt"), 4096)
	s, _ := NewScram(MechanismScramSHA256, func(_, user string) (ScramCredential, bool) { return cred, user == "a=b,c" })
	client, _ := scram.SHA256.NewClient("a=b,c", "pw", "")
	conv := client.NewConversation()
	x := s.Start()
	c1, _ := conv.Step("")
	s1, _, err := x.Step([]byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := conv.Step(string(s1))
	if _, done, err := x.Step([]byte(c2)); !done || err != nil || x.User() != "a=b,c" {
		t.Fatalf("a=b,c: %v %v %q", done, err, x.User())
	}
}
