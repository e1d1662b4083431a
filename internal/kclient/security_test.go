package kclient

import (
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestSettings: each protocol yields its options; typos, missing
// credentials and inconsistent settings are refused with a sentence that
// names the key.
func TestSettings(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	client := ca.Issue(t, pkix.Name{CommonName: "c"})
	caFile := testutil.WriteFile(t, dir, "ca.pem", ca.CertPEM)
	certFile := testutil.WriteFile(t, dir, "c.pem", client.CertPEM)
	keyFile := testutil.WriteFile(t, dir, "c.key", client.KeyPEM)
	for _, tt := range []struct {
		settings []string
		opts     int    // options returned
		err      string // "" for success
	}{
		{settings: nil, opts: 0},
		{settings: []string{"security.protocol=plaintext"}, opts: 0},
		{settings: []string{"security.protocol=SSL", "ssl.ca.location=" + caFile}, opts: 1},
		{settings: []string{"security.protocol=SSL", "ssl.certificate.location=" + certFile, "ssl.key.location=" + keyFile}, opts: 1},
		{settings: []string{"security.protocol=SASL_PLAINTEXT", "sasl.username=u", "sasl.password=p"}, opts: 1},
		{settings: []string{"security.protocol=SASL_SSL", "sasl.mechanisms=SCRAM-SHA-512", "sasl.username=u", "sasl.password=p"}, opts: 2},
		{settings: []string{"security.protocol=SASL_SSL", "ssl.endpoint.identification.algorithm=none", "sasl.username=u"}, opts: 2},
		{settings: []string{"security.protcol=SSL"}, err: `unknown client setting "security.protcol"`},
		{settings: []string{"security.protocol"}, err: "is not key=value"},
		{settings: []string{"security.protocol=TLS"}, err: "security.protocol \"TLS\""},
		{settings: []string{"security.protocol=SASL_SSL"}, err: "needs sasl.username"},
		{settings: []string{"security.protocol=SASL_SSL", "sasl.mechanism=GSSAPI", "sasl.username=u"}, err: "sasl.mechanism \"GSSAPI\""},
		{settings: []string{"sasl.mechanism=PLAIN"}, err: "security.protocol is PLAINTEXT"},
		{settings: []string{"security.protocol=SSL", "ssl.ca.location=" + dir + "/none.pem"}, err: "ssl.ca.location"},
		{settings: []string{"security.protocol=SSL", "ssl.ca.location=" + keyFile}, err: "holds no PEM certificate"},
		{settings: []string{"security.protocol=SSL", "ssl.certificate.location=" + certFile}, err: "needs both"},
		{settings: []string{"security.protocol=SSL", "enable.ssl.certificate.verification=maybe"}, err: "not true or false"},
	} {
		s, err := ParseSettings(tt.settings)
		var n int
		if err == nil {
			opts, oerr := s.Options()
			n, err = len(opts), oerr
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.settings, err, tt.err)
			}
			continue
		}
		if err != nil || n != tt.opts {
			t.Errorf("%q: %d options, %v; want %d", tt.settings, n, err, tt.opts)
		}
	}
}

// TestSettingsEnv: SLUICE_<KEY> variables become settings, before the
// flags, so a -X given on the command line wins.
func TestSettingsEnv(t *testing.T) {
	env := map[string]string{"SLUICE_SASL_PASSWORD": "from-env", "SLUICE_SECURITY_PROTOCOL": "SASL_SSL", "SLUICE_OTHER": "x"}
	pairs := SettingsEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if strings.Join(pairs, " ") != "security.protocol=SASL_SSL sasl.password=from-env" {
		t.Fatalf("SettingsEnv = %q", pairs)
	}
	s, err := ParseSettings(append(pairs, "sasl.password=from-flag"))
	if err != nil {
		t.Fatal(err)
	}
	if s.values["sasl.password"] != "from-flag" || s.values["security.protocol"] != "SASL_SSL" {
		t.Errorf("settings %v: the flag must win over the environment", s.values)
	}
}
