package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// listenerPrefix starts a per-listener override: listener.name.<name>.<key>,
// with the listener name in lower case as Kafka writes it.
const listenerPrefix = "listener.name."

// securityDefs are the keys of TLS and SASL on the Kafka listeners
// (issue 15), kept in their own table so the other broker keys can grow
// beside them without conflicts; registry.go registers both as broker
// keys. Defaults are Kafka's. Keys marked PerListener may also be set for
// one listener as listener.name.<listener>.<key>, which then wins for that
// listener; sasl.jaas.config is only read in its per-listener,
// per-mechanism form listener.name.<listener>.<mechanism>.sasl.jaas.config,
// as Kafka's brokers read it.
var securityDefs = []*Def{
	// TLS (KIP-651 PEM stores, PKCS12 stores; JKS is Java's own format).
	{Name: "ssl.keystore.type", Type: TypeString, Default: "JKS", PerListener: true,
		Enum: []string{"JKS", "PKCS12", "PEM"},
		Doc:  "The format of the key store: PEM or PKCS12 (JKS is refused: convert it with keytool)."},
	{Name: "ssl.keystore.location", Type: TypeString, Nullable: true, PerListener: true,
		Doc: "The key store file: the server's certificate chain and private key."},
	{Name: "ssl.keystore.password", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true,
		Doc: "The password of a PKCS12 key store."},
	{Name: "ssl.key.password", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true,
		Doc: "The password of the private key; encrypted PEM keys are not supported."},
	{Name: "ssl.keystore.certificate.chain", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true,
		Doc: "The server's certificate chain as PEM text, with ssl.keystore.type=PEM."},
	{Name: "ssl.keystore.key", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true,
		Doc: "The server's private key as unencrypted PKCS#8 (or PKCS#1, SEC 1) PEM text, with ssl.keystore.type=PEM."},
	{Name: "ssl.truststore.type", Type: TypeString, Default: "JKS", PerListener: true,
		Enum: []string{"JKS", "PKCS12", "PEM"},
		Doc:  "The format of the trust store: PEM or PKCS12."},
	{Name: "ssl.truststore.location", Type: TypeString, Nullable: true, PerListener: true,
		Doc: "The trust store file: the certificate authorities client certificates are checked against."},
	{Name: "ssl.truststore.password", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true,
		Doc: "The password of a PKCS12 trust store."},
	{Name: "ssl.truststore.certificates", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true,
		Doc: "The trusted certificates as PEM text, with ssl.truststore.type=PEM."},
	{Name: "ssl.client.auth", Type: TypeString, Default: "none", PerListener: true,
		Enum: []string{"required", "requested", "none"},
		Doc:  "Whether clients must (required), may (requested) or do not (none) present a certificate."},
	{Name: "ssl.principal.mapping.rules", Type: TypeString, Default: "DEFAULT", PerListener: true,
		Doc: "How a client certificate's distinguished name becomes a principal name: DEFAULT, or RULE:pattern/replacement/[LU] entries."},
	{Name: "ssl.enabled.protocols", Type: TypeList, Default: "TLSv1.2,TLSv1.3", PerListener: true,
		Enum: []string{"TLSv1.2", "TLSv1.3"},
		Doc:  "The TLS versions accepted from clients."},

	// SASL.
	{Name: "sasl.enabled.mechanisms", Type: TypeList, Default: "GSSAPI", PerListener: true,
		Doc: "The SASL mechanisms offered on SASL listeners; Sluice serves PLAIN."},
	{Name: "sasl.jaas.config", Type: TypePassword, Nullable: true, Sensitive: true, PerListener: true, PerMechanism: true,
		check: checkJAASSyntax,
		Doc:   "A JAAS login module line; brokers read it as listener.name.<listener>.<mechanism>.sasl.jaas.config."},
	{Name: "sasl.server.max.receive.size", Type: TypeInt, Default: "524288", Min: bound(1),
		Doc: "The largest frame a connection may send before it has authenticated, in bytes."},
	{Name: "connection.failed.authentication.delay.ms", Type: TypeInt, Default: "100", Min: bound(0),
		Doc: "How long the answer to a failed authentication is delayed, to slow down password guessing."},
}

// checkJAASSyntax is Def.check for sasl.jaas.config. The JAAS parser lives
// with the mechanisms (internal/auth); here only the outline is checked,
// so that a typo is reported by the key that holds it.
func checkJAASSyntax(value string) error {
	if !strings.Contains(value, ";") {
		return &Error{Key: "sasl.jaas.config", Reason: "a JAAS login module line must end with ';'"}
	}
	return nil
}

// lookupListenerKey resolves a per-listener key
// (listener.name.<listener>.<key>, or for sasl.jaas.config
// listener.name.<listener>.<mechanism>.sasl.jaas.config) to the Def of
// its key. ok is false for any other name.
func lookupListenerKey(name string) (*Def, bool) {
	rest, ok := strings.CutPrefix(name, listenerPrefix)
	if !ok {
		return nil, false
	}
	listener, key, ok := strings.Cut(rest, ".")
	if !ok || !isListenerName(listener) {
		return nil, false
	}
	if d, ok := brokerByName[key]; ok && d.PerListener && !d.PerMechanism {
		return d, true
	}
	mechanism, key, ok := strings.Cut(key, ".")
	if d, found := brokerByName[key]; ok && found && d.PerMechanism && mechanism != "" {
		return d, true
	}
	return nil, false
}

// ListenerKey is the name of key's override for one listener, with the
// listener name lower-cased as Kafka writes it.
func ListenerKey(listener, key string) string {
	return listenerPrefix + strings.ToLower(listener) + "." + key
}

// listenerEntry returns key's value for listener: its
// listener.name.<listener>.<key> override when set, else the broker-wide
// value.
func (b *Broker) listenerEntry(listener, key string) entry {
	d, ok := brokerByName[key]
	if !ok || !d.PerListener {
		panic("config: " + key + " is not a per-listener key")
	}
	if e, ok := b.listenerValues[ListenerKey(listener, key)]; ok {
		return e
	}
	return b.get(key)
}

// ListenerString returns a per-listener key's value as text for listener
// ("" for null): its override when set, else the broker-wide value.
func (b *Broker) ListenerString(listener, key string) string {
	return b.listenerEntry(listener, key).value
}

// ListenerList returns a per-listener TypeList key's elements for
// listener.
func (b *Broker) ListenerList(listener, key string) []string {
	return slices.Clone(b.listenerEntry(listener, key).list)
}

// JAASConfig returns listener.name.<listener>.<mechanism>.sasl.jaas.config
// (mechanism lower-cased, as Kafka names it), "" when unset. Kafka's
// brokers do not fall back to an unprefixed sasl.jaas.config, and neither
// does Sluice, so a file means the same to both.
func (b *Broker) JAASConfig(listener, mechanism string) string {
	key := listenerPrefix + strings.ToLower(listener) + "." + strings.ToLower(mechanism) + ".sasl.jaas.config"
	return b.listenerValues[key].value
}

// ListenerOverrides returns the names of the per-listener keys that are
// set, sorted, for messages that point at what is configured.
func (b *Broker) ListenerOverrides() []string {
	return slices.Sorted(maps.Keys(b.listenerValues))
}

// resolveListenerValues keeps the per-listener keys of set, which are not
// in the registry under their own names.
func (b *Broker) resolveListenerValues(set map[string]layer) {
	b.listenerValues = map[string]entry{}
	for name, l := range set {
		if _, ok := brokerByName[name]; ok {
			continue
		}
		d, ok := lookupListenerKey(name)
		if !ok {
			panic(fmt.Sprintf("config: %s was set but is no key", name))
		}
		b.listenerValues[name] = parseEntry(d, l.value, SourceStaticBroker)
	}
}
