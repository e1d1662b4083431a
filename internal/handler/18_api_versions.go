package handler

// ApiVersions, key 18, versions 0-3.
//
// Not implemented: feature flags (SupportedFeatures, FinalizedFeatures);
// they matter once KRaft metadata versions exist.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// apiVersions answers with the advertised table (protocol/versions.go). A
// request at a version above ours is answered by the server at v0 with
// UNSUPPORTED_VERSION and the same table, so the client can retry at a
// version we serve.
func apiVersions(req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = protocol.ApiKeys()
	return resp
}
