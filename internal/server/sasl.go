package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// saslStep is where a connection is in its SASL authentication.
type saslStep int

const (
	// saslHandshake awaits SaslHandshake; ApiVersions may come first.
	saslHandshake saslStep = iota
	// saslAuthenticate awaits SaslAuthenticate requests (handshake v1).
	saslAuthenticate
	// saslRawToken awaits the client's tokens as bare size-prefixed
	// frames, without a request header (handshake v0, as kafka-python
	// 2.0 and other old clients authenticate).
	saslRawToken
	// saslDone: authenticated; every request is served.
	saslDone
	// saslFailed: the connection is closed once the answer is sent.
	saslFailed
)

// errAuthenticationFailed closes a connection whose authentication failed.
var errAuthenticationFailed = errors.New("authentication failed")

// saslConn is one connection's SASL state machine. It implements
// protocol.SASL for the SaslHandshake and SaslAuthenticate handlers and is
// used only on the connection's reader goroutine.
type saslConn struct {
	listener *auth.SASL
	step     saslStep
	exchange auth.Exchange
	// mechanism is the one chosen by the handshake, for logs.
	mechanism string
	// failure is why authentication failed, for the log.
	failure error
}

// Mechanisms lists the listener's enabled mechanisms.
func (sc *saslConn) Mechanisms() []string { return sc.listener.Mechanisms() }

// Handshake starts the exchange of mechanism.
func (sc *saslConn) Handshake(mechanism string, version int16) error {
	if sc.step != saslHandshake {
		return fmt.Errorf("%w: SaslHandshake after the handshake", kerr.IllegalSaslState)
	}
	m, ok := sc.listener.Mechanism(mechanism)
	if !ok {
		sc.fail(fmt.Errorf("%w: %q is not enabled on this listener", kerr.UnsupportedSaslMechanism, mechanism))
		return sc.failure
	}
	sc.exchange, sc.mechanism = m.Start(), mechanism
	sc.step = saslAuthenticate
	if version == 0 {
		sc.step = saslRawToken
	}
	return nil
}

// Authenticate passes a client token to the exchange.
func (sc *saslConn) Authenticate(token []byte) ([]byte, error) {
	if sc.step != saslAuthenticate && sc.step != saslRawToken {
		if sc.step == saslDone {
			// Re-authentication (KIP-368) is not served: Kafka answers
			// this without closing the connection.
			return nil, fmt.Errorf("%w: SaslAuthenticate after authentication", kerr.IllegalSaslState)
		}
		sc.fail(fmt.Errorf("%w: SaslAuthenticate before SaslHandshake", kerr.IllegalSaslState))
		return nil, sc.failure
	}
	challenge, done, err := sc.exchange.Step(token)
	if err != nil {
		sc.fail(err)
		return nil, err
	}
	if done {
		sc.step = saslDone
	}
	return challenge, nil
}

func (sc *saslConn) fail(err error) {
	sc.step, sc.failure = saslFailed, err
}

// authenticated reports whether the exchange has succeeded.
func (sc *saslConn) authenticated() bool { return sc.step == saslDone }

// allowed reports whether a request with key may come now: before
// authentication only the requests of the exchange's next step (Kafka's
// SaslServerAuthenticator closes the connection on any other).
func (sc *saslConn) allowed(key int16) bool {
	switch sc.step {
	case saslHandshake:
		return key == kmsg.ApiVersions.Int16() || key == kmsg.SASLHandshake.Int16()
	case saslAuthenticate:
		return key == kmsg.SASLAuthenticate.Int16()
	}
	return sc.step == saslDone
}

// Compile-time check that saslConn is what the handlers drive.
var _ protocol.SASL = (*saslConn)(nil)

// checkPreAuth applies the limits of a connection that has not
// authenticated: frames of at most sasl.server.max.receive.size, and only
// the requests of the exchange. A refused frame closes the connection
// before its body is read.
func (cn *conn) checkPreAuth(size int, key int16) error {
	if limit := cn.s.cfg.SASLReceiveBytesMax; size > limit {
		return fmt.Errorf("%w: %d-byte frame before authentication (sasl.server.max.receive.size %d)", errMalformed, size, limit)
	}
	if !cn.sasl.allowed(key) {
		return fmt.Errorf("%w: unexpected %s request during SASL authentication", kerr.IllegalSaslState, kmsg.NameForKey(key))
	}
	return nil
}

// rawToken answers a v0 handshake's raw token frame: the server's token,
// size-prefixed, without a response header.
func (cn *conn) rawToken(token []byte) *pending {
	challenge, err := cn.sasl.Authenticate(token)
	p := &pending{key: kmsg.SASLAuthenticate.Int16(), received: time.Now()}
	if err != nil {
		// Kafka closes a v0 connection that fails without an answer: the
		// old protocol has no way to say why.
		p.none = true
		return p
	}
	p.raw = challenge
	if p.raw == nil {
		p.raw = []byte{} // an empty token is still sent, as Kafka does
	}
	return p
}

// afterAuthentication runs after each request before authentication: it
// records the principal of a connection that has just authenticated, and
// for one that failed logs the failure with the client's address and
// waits connection.failed.authentication.delay.ms before its answer goes
// out, so that guessing passwords is slow. It returns
// errAuthenticationFailed to close the connection once that answer is
// sent.
func (cn *conn) afterAuthentication() error {
	switch cn.sasl.step {
	case saslDone:
		cn.principal = protocol.Principal{Type: "User", Name: cn.sasl.exchange.User()}
		return nil
	case saslFailed:
		cn.s.logger.Info("failed authentication", "remote", cn.c.RemoteAddr().String(), "listener", cn.listener,
			"mechanism", cn.sasl.mechanism, "err", cn.sasl.failure)
		timer := time.NewTimer(cn.s.cfg.FailedAuthenticationDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-cn.s.closing:
		}
		return errAuthenticationFailed
	}
	return nil
}
