package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/sluice-dev/sluice/internal/config"
)

// storeBytesMax bounds a key or trust store file; real ones are a few
// kilobytes.
const storeBytesMax = 4 << 20

// Store types Kafka names.
const (
	storePEM    = "PEM"
	storePKCS12 = "PKCS12"
	storeJKS    = "JKS"
)

// reloadCheckInterval is how often, at most, new connections check
// whether the key and trust store files changed. A variable so tests can
// check at every connection.
var reloadCheckInterval = time.Second

// ServerTLS builds the TLS configuration of listener from the ssl.* keys,
// each taken from its listener.name.<listener>. override when set. Stores
// read from files are read again when a file changes (its size or
// modification time), so renewed certificates are used by new
// connections without a restart; inline PEM stays as configured.
func ServerTLS(cfg *config.Broker, listener string) (*tls.Config, error) {
	get := func(key string) string { return cfg.ListenerString(listener, key) }
	build := func() (*tls.Config, error) {
		tc, err := buildServerTLS(get)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", listener, err)
		}
		return tc, nil
	}
	tc, err := build()
	if err != nil {
		return nil, err
	}
	var files []string
	for _, key := range []string{"ssl.keystore.location", "ssl.truststore.location"} {
		if path := get(key); path != "" {
			files = append(files, path)
		}
	}
	if len(files) == 0 {
		return tc, nil
	}
	r := &reloadingTLS{build: build, files: files, config: tc, stamps: stampFiles(files), checked: time.Now()}
	return &tls.Config{GetConfigForClient: r.get}, nil
}

// reloadingTLS serves a TLS configuration built from store files, built
// again when they change.
type reloadingTLS struct {
	build func() (*tls.Config, error)
	files []string

	mu      sync.Mutex  // guards the fields below
	config  *tls.Config // the last configuration that built
	stamps  []fileStamp // of files when config was built
	checked time.Time   // when the files were last looked at
}

// fileStamp is what tells that a file changed.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampFiles(paths []string) []fileStamp {
	stamps := make([]fileStamp, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			stamps[i] = fileStamp{fi.Size(), fi.ModTime()}
		}
	}
	return stamps
}

// get is tls.Config.GetConfigForClient: the current configuration,
// rebuilt first if a store file changed. A store that does not build
// (a certificate written but not yet its key) leaves the last good
// configuration in use until the next check.
func (r *reloadingTLS) get(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < reloadCheckInterval {
		return r.config, nil
	}
	r.checked = time.Now()
	stamps := stampFiles(r.files)
	if slices.Equal(stamps, r.stamps) {
		return r.config, nil
	}
	if tc, err := r.build(); err == nil {
		r.config, r.stamps = tc, stamps
	}
	return r.config, nil
}

// buildServerTLS reads the stores and builds the configuration once.
func buildServerTLS(get func(string) string) (*tls.Config, error) {
	cert, err := loadKeyStore(get)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	tc.MinVersion, tc.MaxVersion = tlsVersions(splitList(get("ssl.enabled.protocols")))
	pool, err := loadTrustStore(get)
	if err != nil {
		return nil, err
	}
	tc.ClientCAs = pool
	switch mode := get("ssl.client.auth"); mode {
	case "required":
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		tc.ClientAuth = tls.NoClientCert
	}
	if tc.ClientAuth != tls.NoClientCert && pool == nil {
		return nil, fmt.Errorf("ssl.client.auth=%s needs a trust store (ssl.truststore.location or ssl.truststore.certificates)",
			get("ssl.client.auth"))
	}
	return tc, nil
}

// splitList splits a normalized list value.
func splitList(value string) []string {
	if value == "" {
		return nil
	}
	return strings.Split(value, ",")
}

// tlsVersions maps ssl.enabled.protocols to the lowest and highest version
// allowed.
func tlsVersions(protocols []string) (lowest, highest uint16) {
	lowest, highest = tls.VersionTLS13, tls.VersionTLS12
	for _, p := range protocols {
		v := uint16(tls.VersionTLS12)
		if p == "TLSv1.3" {
			v = tls.VersionTLS13
		}
		lowest, highest = min(lowest, v), max(highest, v)
	}
	return lowest, highest
}

// loadKeyStore reads the server's certificate chain and key: a PEM file
// or inline PEM text (KIP-651), or a PKCS12 file.
func loadKeyStore(get func(string) string) (tls.Certificate, error) {
	location := get("ssl.keystore.location")
	chain, key := get("ssl.keystore.certificate.chain"), get("ssl.keystore.key")
	switch typ := get("ssl.keystore.type"); {
	case location == "" && chain == "":
		return tls.Certificate{}, errors.New("TLS needs a key store: set ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key with ssl.keystore.type=PEM")
	case typ == storeJKS:
		return tls.Certificate{}, errors.New("ssl.keystore.type=JKS is Java's own format; convert the store to PKCS12 or PEM (keytool -importkeystore) and set ssl.keystore.type")
	case location != "" && chain != "":
		return tls.Certificate{}, errors.New("set ssl.keystore.location or ssl.keystore.certificate.chain, not both")
	case chain != "":
		if typ != storePEM {
			return tls.Certificate{}, errors.New("ssl.keystore.certificate.chain needs ssl.keystore.type=PEM")
		}
		if key == "" {
			return tls.Certificate{}, errors.New("ssl.keystore.certificate.chain is set but ssl.keystore.key is not")
		}
		return pemKeyPair([]byte(chain), []byte(key), "ssl.keystore.certificate.chain")
	case typ == storePEM:
		data, err := readStore(location)
		if err != nil {
			return tls.Certificate{}, err
		}
		return pemKeyPair(data, data, location)
	default: // PKCS12
		data, err := readStore(location)
		if err != nil {
			return tls.Certificate{}, err
		}
		priv, leaf, chain, err := pkcs12.DecodeChain(data, get("ssl.keystore.password"))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("PKCS12 key store %s: %w", location, err)
		}
		cert := tls.Certificate{PrivateKey: priv, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, c := range chain {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
		return cert, nil
	}
}

// pemKeyPair parses a PEM certificate chain and unencrypted private key;
// where names them for errors.
func pemKeyPair(chain, key []byte, where string) (tls.Certificate, error) {
	for rest := key; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return tls.Certificate{}, fmt.Errorf("%s: the private key is encrypted, which Sluice does not read yet; store it unencrypted (openssl pkcs8 -nocrypt) with tight file permissions", where)
		}
	}
	cert, err := tls.X509KeyPair(chain, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", where, err)
	}
	return cert, nil
}

// loadTrustStore reads the certificate authorities client certificates are
// checked against; nil when none is configured.
func loadTrustStore(get func(string) string) (*x509.CertPool, error) {
	location, inline := get("ssl.truststore.location"), get("ssl.truststore.certificates")
	typ := get("ssl.truststore.type")
	switch {
	case location == "" && inline == "":
		return nil, nil
	case location != "" && inline != "":
		return nil, errors.New("set ssl.truststore.location or ssl.truststore.certificates, not both")
	case typ == storeJKS:
		return nil, errors.New("ssl.truststore.type=JKS is Java's own format; convert the store to PKCS12 or PEM and set ssl.truststore.type")
	case inline != "":
		if typ != storePEM {
			return nil, errors.New("ssl.truststore.certificates needs ssl.truststore.type=PEM")
		}
		return pemPool([]byte(inline), "ssl.truststore.certificates")
	}
	data, err := readStore(location)
	if err != nil {
		return nil, err
	}
	if typ == storePEM {
		return pemPool(data, location)
	}
	certs, err := pkcs12.DecodeTrustStore(data, get("ssl.truststore.password"))
	if err != nil {
		return nil, fmt.Errorf("PKCS12 trust store %s: %w", location, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// pemPool parses PEM certificates into a pool.
func pemPool(data []byte, where string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", where)
	}
	return pool, nil
}

// readStore reads a store file of bounded size.
func readStore(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, storeBytesMax+1))
	if err != nil {
		return nil, err
	}
	if len(data) > storeBytesMax {
		return nil, fmt.Errorf("%s is larger than %d bytes; it is not a key or trust store", path, storeBytesMax)
	}
	return data, nil
}

// CertificateName is the principal name Kafka's default
// ssl.principal.mapping.rules give a client certificate: its subject's
// distinguished name in RFC 2253 form, most specific part first, e.g.
// "CN=alice,OU=eng,O=Example,C=US". The subject is read from its encoded
// form, so the order is the certificate's own.
func CertificateName(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return cert.Subject.String()
	}
	return rdns.String()
}

// SecurityProtocols are the protocols a listener may use.
var SecurityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// Listener is how one Kafka listener secures its connections.
type Listener struct {
	Name     string
	Protocol string      // one of SecurityProtocols
	TLS      *tls.Config // set for SSL and SASL_SSL
	SASL     *SASL       // set for SASL_PLAINTEXT and SASL_SSL
	// principals maps client certificates' names; nil is DEFAULT.
	principals *PrincipalMapper
}

// NewListener builds listener's security from cfg for protocol; SCRAM
// mechanisms find users' credentials with scram (nil: no SCRAM user).
func NewListener(cfg *config.Broker, listener, protocol string, scram ScramLookup) (*Listener, error) {
	if !slices.Contains(SecurityProtocols, protocol) {
		return nil, fmt.Errorf("listener %s: unknown security protocol %q", listener, protocol)
	}
	l := &Listener{Name: listener, Protocol: protocol}
	var err error
	if protocol == "SSL" || protocol == "SASL_SSL" {
		if l.TLS, err = ServerTLS(cfg, listener); err != nil {
			return nil, err
		}
		if rules := cfg.ListenerString(listener, "ssl.principal.mapping.rules"); rules != "DEFAULT" {
			if l.principals, err = ParsePrincipalRules(rules); err != nil {
				return nil, fmt.Errorf("listener %s: %w", listener, err)
			}
		}
	}
	if protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL" {
		if l.SASL, err = saslFromConfig(cfg, listener, scram); err != nil {
			return nil, err
		}
	}
	return l, nil
}
