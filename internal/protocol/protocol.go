// Package protocol is the contract between the server, which owns
// connections and framing, and the handlers, which answer requests: a
// decoded Request with who sent it, the Reply, the Handler interface the
// server calls, and the table of API versions the broker serves
// (versions.go), which the server checks before decoding and ApiVersions
// advertises.
//
// It is a leaf: it imports only kmsg and kerr, so the server depends on
// it rather than on the handler's implementation, and tests can serve a
// fake Handler. It holds no state and does no I/O.
package protocol

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Principal is who sent a request, in Kafka's form Type:Name
// (KafkaPrincipal): User:<name> after SASL, User:<certificate subject>
// after mutual TLS, Anonymous otherwise.
type Principal struct {
	Type string // "User" for every principal Kafka's authenticators make
	Name string
}

// Anonymous is the principal of an unauthenticated connection, as Kafka
// names it.
var Anonymous = Principal{Type: "User", Name: "ANONYMOUS"}

func (p Principal) String() string { return p.Type + ":" + p.Name }

// Request is one decoded request with the header fields handlers use.
type Request struct {
	Msg       kmsg.Request
	ClientID  string
	Host      string    // client address, for group membership
	Principal Principal // the connection's principal, for Authorize
	// Listener is the name of the listener the connection came in on, so
	// that Metadata answers with the addresses of that listener; "" for
	// the first one.
	Listener string
	// SASL is the connection's SASL exchange on a SASL listener, nil on
	// others.
	SASL SASL
}

// SASL is one connection's SASL authentication, owned by the server and
// driven by the SaslHandshake and SaslAuthenticate handlers on the
// connection's reader goroutine. Errors wrap the kerr code to answer with:
// UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE (a request out of turn,
// or any after authentication) or SASL_AUTHENTICATION_FAILED. The server
// closes a connection whose authentication failed once the answer is
// sent, after connection.failed.authentication.delay.ms.
type SASL interface {
	// Mechanisms lists the listener's enabled mechanisms.
	Mechanisms() []string
	// Handshake chooses the mechanism of the exchange. At SaslHandshake
	// version 0 the client's tokens then come as raw frames, which the
	// server handles itself; at version 1 in SaslAuthenticate requests.
	Handshake(mechanism string, version int16) error
	// Authenticate takes the client's next token and returns the
	// server's.
	Authenticate(token []byte) ([]byte, error)
}

// Reply is a handler's answer. Exactly one of Msg and Wait is set, unless
// the request gets no response at all (a Produce with acks=0).
type Reply struct {
	// Msg is a response ready now.
	Msg kmsg.Response
	// Wait produces the response when it may block (fsync, long poll). The
	// connection runs it off its reader goroutine, so later requests are
	// read meanwhile, and sends the responses in request order.
	Wait func(ctx context.Context) kmsg.Response
	// None says no response is sent.
	None bool
	// Close, with None, closes the connection after earlier responses
	// are sent: how an acks=0 producer learns that a produce failed.
	Close bool
}

// Handler answers requests. Handle is called on the connection's reader
// goroutine, one request at a time per connection, with a version already
// checked by Supported; ctx ends when the connection closes. It does the
// order-sensitive part at once and leaves what may block to Reply.Wait.
type Handler interface {
	Handle(ctx context.Context, req *Request) Reply
}
