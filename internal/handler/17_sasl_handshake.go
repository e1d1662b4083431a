package handler

// SaslHandshake, key 17, versions 0-1: the client names the SASL
// mechanism it will use. At v1 its tokens follow in SaslAuthenticate
// requests; at v0 (kafka-python 2.0, librdkafka before 1.0 and other old
// clients) they follow as bare size-prefixed frames, which the server
// reads itself (internal/server/sasl.go). An unknown mechanism is answered
// UNSUPPORTED_SASL_MECHANISM with the enabled ones, then the connection is
// closed, as Kafka does. On a listener without SASL, and once
// authenticated, the answer is ILLEGAL_SASL_STATE, as Kafka's.
//
// Not implemented: re-authentication (KIP-368).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func saslHandshake(sasl protocol.SASL, r *kmsg.SASLHandshakeRequest) *kmsg.SASLHandshakeResponse {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	if sasl == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp
	}
	err := sasl.Handshake(r.Mechanism, r.Version)
	resp.ErrorCode = errorCode(err)
	if err == nil || resp.ErrorCode == kerr.UnsupportedSaslMechanism.Code {
		resp.SupportedMechanisms = sasl.Mechanisms()
	}
	return resp
}
