package handler

// ApiVersions, key 18, versions 0-3.
//
// Not implemented: feature flags (SupportedFeatures, FinalizedFeatures);
// they matter once KRaft metadata versions exist.

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersions answers with the advertised table. A request at a version
// above ours is answered by the server at v0 with UNSUPPORTED_VERSION and
// the same table, so the client can retry at a version we serve.
func apiVersions(req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiKeys()
	return resp
}

// UnsupportedApiVersions is the v0 response to an ApiVersions request at a
// version the broker does not serve.
func UnsupportedApiVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiKeys()
	return resp
}

func apiKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := slices.Sorted(maps.Keys(advertised))
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(keys))
	for _, k := range keys {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, advertised[k].min, advertised[k].max
		if m, ok := advertisedMin[k]; ok {
			ak.MinVersion = m
		}
		out = append(out, ak)
	}
	return out
}
