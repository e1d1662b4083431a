package handler

// ApiVersions, key 18, versions 0-3. From v3 the answer carries the
// features of KIP-584 as a KRaft broker lists them: SupportedFeatures (the
// levels every Sluice broker supports, metadata.SupportedFeatures) and
// FinalizedFeatures with their epoch (the FeatureLevel records of the
// metadata log). This is also what Admin.describeFeatures and
// kafka-features describe read.
//
// Like Kafka, answers below v4 leave out supported features whose minimum
// is 0 (kraft.version): clients before KAFKA-17011's fix reject a range
// starting at 0. Sluice does not serve v4 yet, so kraft.version is never
// listed.

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// apiVersionsZeroMinFeatures is the first version that may list a
// supported feature whose minimum level is 0 (KAFKA-17011).
const apiVersionsZeroMinFeatures = 4

// apiVersions answers with the advertised table (protocol/versions.go) and,
// from v3, the features. A request at a version above ours is answered by
// the server at v0 with UNSUPPORTED_VERSION and the same table, so the
// client can retry at a version we serve.
func (h *Handler) apiVersions(req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = protocol.ApiKeys()
	if req.Version < 3 {
		return resp
	}
	for _, f := range metadata.SupportedFeatures {
		if f.Min == 0 && req.Version < apiVersionsZeroMinFeatures {
			continue
		}
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = f.Name, f.Min, f.Max
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
	}
	im := h.b.Meta.Image()
	for _, name := range slices.Sorted(maps.Keys(im.Features)) {
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, im.Features[name], im.Features[name]
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	}
	resp.FinalizedFeaturesEpoch = im.FeaturesEpoch
	return resp
}
