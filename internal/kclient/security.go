package kclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SettingKeys are the client settings Settings accepts, named as
// librdkafka (and so kcat's -X) and Kafka's Java clients name them.
var SettingKeys = []string{
	"security.protocol",                     // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	"sasl.mechanism",                        // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	"sasl.mechanisms",                       // librdkafka's name of sasl.mechanism
	"sasl.username",                         //
	"sasl.password",                         //
	"ssl.ca.location",                       // PEM file of the CAs that sign the brokers' certificates
	"ssl.certificate.location",              // PEM client certificate, for mutual TLS
	"ssl.key.location",                      // PEM private key of that certificate
	"enable.ssl.certificate.verification",   // false skips checking the broker's certificate
	"ssl.endpoint.identification.algorithm", // https (default) or none: check the broker's host name
}

// SettingsEnvPrefix starts the environment variables that hold client
// settings: SLUICE_ and the key upper-cased with dots as underscores
// (SLUICE_SASL_PASSWORD for sasl.password).
const SettingsEnvPrefix = "SLUICE_"

// SettingsEnv returns, as key=value pairs, the client settings set in the
// environment, which lookup reads (os.LookupEnv). A password kept there
// does not show in the process list, as one given with -X does. Pairs
// from flags given after them win.
func SettingsEnv(lookup func(string) (string, bool)) []string {
	var pairs []string
	for _, key := range SettingKeys {
		name := SettingsEnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if v, ok := lookup(name); ok {
			pairs = append(pairs, key+"="+v)
		}
	}
	return pairs
}

// Settings are a client's security settings, parsed from key=value pairs.
type Settings struct {
	values map[string]string
}

// ParseSettings parses key=value pairs (repeated -X flags). A key not in
// SettingKeys is an error, so a typo does not silently connect in
// plaintext.
func ParseSettings(pairs []string) (Settings, error) {
	s := Settings{values: map[string]string{}}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return s, fmt.Errorf("client setting %q is not key=value", kv)
		}
		if !slices.Contains(SettingKeys, k) {
			return s, fmt.Errorf("unknown client setting %q; known: %s", k, strings.Join(SettingKeys, ", "))
		}
		if k == "sasl.mechanisms" {
			k = "sasl.mechanism"
		}
		s.values[k] = v
	}
	return s, nil
}

// Options returns the kgo options the settings ask for: a TLS dialer for
// SSL and SASL_SSL, a SASL mechanism for SASL_PLAINTEXT and SASL_SSL.
func (s Settings) Options() ([]kgo.Opt, error) {
	protocol := strings.ToUpper(s.get("security.protocol", "PLAINTEXT"))
	var opts []kgo.Opt
	switch protocol {
	case "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	default:
		return nil, fmt.Errorf("security.protocol %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", protocol)
	}
	if strings.HasPrefix(protocol, "SASL_") {
		opt, err := s.sasl()
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	} else if _, set := s.values["sasl.mechanism"]; set {
		return nil, fmt.Errorf("sasl.mechanism is set but security.protocol is %s; use SASL_PLAINTEXT or SASL_SSL", protocol)
	}
	return opts, nil
}

func (s Settings) get(key, fallback string) string {
	if v, ok := s.values[key]; ok {
		return v
	}
	return fallback
}

// sasl returns the SASL option for sasl.mechanism and the credentials.
func (s Settings) sasl() (kgo.Opt, error) {
	user, pass := s.values["sasl.username"], s.values["sasl.password"]
	if user == "" {
		return nil, fmt.Errorf("SASL needs sasl.username and sasl.password")
	}
	switch mech := strings.ToUpper(s.get("sasl.mechanism", "PLAIN")); mech {
	case "PLAIN":
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()), nil
	case "SCRAM-SHA-256":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()), nil
	case "SCRAM-SHA-512":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()), nil
	default:
		return nil, fmt.Errorf("sasl.mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", mech)
	}
}

// tlsConfig builds the client's TLS configuration. kgo sets the server
// name of each broker's connection from its address.
func (s Settings) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := s.values["ssl.ca.location"]; ca != "" {
		data, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("ssl.ca.location: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("ssl.ca.location %s holds no PEM certificate", ca)
		}
	}
	cert, key := s.values["ssl.certificate.location"], s.values["ssl.key.location"]
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("mutual TLS needs both ssl.certificate.location and ssl.key.location")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	switch v := strings.ToLower(s.get("enable.ssl.certificate.verification", "true")); v {
	case "true":
	case "false":
		tc.InsecureSkipVerify = true
	default:
		return nil, fmt.Errorf("enable.ssl.certificate.verification %q is not true or false", v)
	}
	if strings.EqualFold(s.get("ssl.endpoint.identification.algorithm", "https"), "none") && !tc.InsecureSkipVerify {
		// Check the chain but not the host name, as Kafka's clients do
		// with an empty algorithm.
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("the broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}
