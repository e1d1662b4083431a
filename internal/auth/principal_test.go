package auth

import (
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestPrincipalRules: Kafka's documented ssl.principal.mapping.rules
// forms, first match wins, casing flags, Java replacement syntax, and a
// name no rule matches.
func TestPrincipalRules(t *testing.T) {
	rules := `RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/, RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,` +
		`RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2x/U,RULE:^CN=([^,]*)\,lit$/\$$1/,DEFAULT`
	m, err := ParsePrincipalRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=kafka-server1,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown": "kafka-server1",
		"CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown":            "adminuser@admin",
		"cn=duke,ou=JavaSoft,dc=example,dc=com":                                     "DUKE@JAVASOFTX",
		"CN=dollar,lit":                                                             "$dollar",
		"CN=other,O=Example":                                                        "CN=other,O=Example",
	} {
		if got, ok := m.Name(dn); !ok || got != want {
			t.Errorf("Name(%q) = %q, %v; want %q", dn, got, ok, want)
		}
	}
	strict, err := ParsePrincipalRules(`RULE:^CN=(.*)$/$1/L`)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := strict.Name("O=x,CN=y"); ok {
		t.Errorf("a name no rule matches mapped to %q", got)
	}
	for _, bad := range []string{"", "RULE:foo", "DEFAULT,garbage", "RULE:([/x/", "RULE:a/b/X"} {
		if _, err := ParsePrincipalRules(bad); err == nil {
			t.Errorf("ParsePrincipalRules(%q) succeeded", bad)
		}
	}
}

// TestListenerCertificatePrincipal: the listener's rules apply to its
// client certificates, and a certificate no rule maps is refused.
func TestListenerCertificatePrincipal(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "localhost"}, "localhost")
	pemFile := testutil.WriteFile(t, dir, "server.pem", append(append([]byte{}, server.KeyPEM...), server.CertPEM...))
	cfg := loadConfig(t, map[string]string{
		"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile,
		"listener.name.ssl.ssl.principal.mapping.rules": `RULE:^CN=([^,]*),O=Clients$/$1/L`,
	})
	l, err := NewListener(cfg, "SSL", "SSL", nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := ca.Issue(t, pkix.Name{CommonName: "Alice", Organization: []string{"Clients"}})
	if got, err := l.CertificatePrincipal(alice.Cert); err != nil || got != "alice" {
		t.Errorf("principal %q, %v; want alice", got, err)
	}
	other := ca.Issue(t, pkix.Name{CommonName: "Mallory", Organization: []string{"Elsewhere"}})
	if _, err := l.CertificatePrincipal(other.Cert); err == nil || !strings.Contains(err.Error(), "no ssl.principal.mapping.rules apply") {
		t.Errorf("unmapped certificate: %v", err)
	}
	def, err := NewListener(cfg, "OTHER", "SSL", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := def.CertificatePrincipal(alice.Cert); got != "CN=Alice,O=Clients" {
		t.Errorf("DEFAULT principal %q", got)
	}
}
