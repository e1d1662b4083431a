// Package auth is how a Kafka listener authenticates its clients: TLS
// from Kafka's ssl.* keys (PEM stores as KIP-651 defines them, PKCS12
// stores), the principal of a client certificate, Kafka's JAAS syntax
// (sasl.jaas.config), and the server side of the SASL mechanisms PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512 (scram.go; credentials come from the
// metadata log through a ScramLookup).
//
// It knows configuration and cryptography, not the wire: the server
// (internal/server) drives an Exchange with the tokens that SaslHandshake
// and SaslAuthenticate, or a v0 handshake's raw frames, carry. Errors that
// a client should see wrap kerr.SaslAuthenticationFailed and say why in
// Kafka's words; configuration errors are one sentence naming the key.
//
// Key and trust store files are read again when they change, for new
// connections (ServerTLS), so renewed certificates need no restart.
//
// Not implemented yet: OAUTHBEARER and GSSAPI mechanisms,
// ssl.principal.mapping.rules other than the default.
package auth
