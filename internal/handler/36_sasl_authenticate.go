package handler

// SaslAuthenticate, key 36, versions 0-2: one SASL token of the exchange
// a v1 SaslHandshake began, and the server's answer. A failure is
// answered SASL_AUTHENTICATION_FAILED with Kafka's reason ("Authentication
// failed: Invalid username or password"); the server delays that answer
// by connection.failed.authentication.delay.ms and then closes the
// connection. v1 adds SessionLifetimeMillis, left 0: sessions do not
// expire, since re-authentication (KIP-368) is not implemented. v2 is v1
// in the flexible encoding.
//
// On a listener without SASL, and once authenticated, the answer is
// ILLEGAL_SASL_STATE, as Kafka's.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func saslAuthenticate(sasl protocol.SASL, r *kmsg.SASLAuthenticateRequest) *kmsg.SASLAuthenticateResponse {
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.SASLAuthBytes = []byte{}
	if sasl == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate on a listener without SASL"
		resp.ErrorMessage = &msg
		return resp
	}
	challenge, err := sasl.Authenticate(r.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	if challenge != nil {
		resp.SASLAuthBytes = challenge
	}
	return resp
}
