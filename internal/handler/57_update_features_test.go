package handler

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// TestApiVersionsFeatures: v3 lists metadata.version as supported and
// finalized at the level the cluster was created with, not kraft.version
// (minimum 0, KAFKA-17011) nor any feature clients would act on; v2 lists
// no features.
func TestApiVersionsFeatures(t *testing.T) {
	h := protoHandler(t)
	ask := func(v int16) *kmsg.ApiVersionsResponse {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		return h.Handle(context.Background(), &Request{Msg: req}).Msg.(*kmsg.ApiVersionsResponse)
	}
	r := ask(3)
	if len(r.SupportedFeatures) != 1 || r.SupportedFeatures[0].Name != "metadata.version" ||
		r.SupportedFeatures[0].MinVersion != 7 || r.SupportedFeatures[0].MaxVersion != 21 {
		t.Errorf("supported features %+v, want metadata.version 7-21 only", r.SupportedFeatures)
	}
	if len(r.FinalizedFeatures) != 1 || r.FinalizedFeatures[0].Name != "metadata.version" ||
		r.FinalizedFeatures[0].MinVersionLevel != 21 || r.FinalizedFeatures[0].MaxVersionLevel != 21 {
		t.Errorf("finalized features %+v, want metadata.version 21 only", r.FinalizedFeatures)
	}
	if r.FinalizedFeaturesEpoch < 0 || r.FinalizedFeaturesEpoch != h.b.Meta.Image().FeaturesEpoch {
		t.Errorf("finalized features epoch %d, image's %d", r.FinalizedFeaturesEpoch, h.b.Meta.Image().FeaturesEpoch)
	}
	if r2 := ask(2); len(r2.SupportedFeatures)+len(r2.FinalizedFeatures) != 0 {
		t.Errorf("v2 lists features %+v %+v", r2.SupportedFeatures, r2.FinalizedFeatures)
	}
}

// TestUpdateFeatures: kafka-features' upgrades and downgrades of what
// Sluice cannot do are refused as a whole with one INVALID_UPDATE_VERSION
// (repeated per feature before v2); an update to the current level is
// accepted; ALTER on the cluster is required.
func TestUpdateFeatures(t *testing.T) {
	h := protoHandler(t)
	type upd struct {
		name  string
		level int16
		typ   int8
	}
	ask := func(h *Handler, v int16, validate bool, us ...upd) *kmsg.UpdateFeaturesResponse {
		req := kmsg.NewPtrUpdateFeaturesRequest()
		req.SetVersion(v)
		req.ValidateOnly, req.TimeoutMillis = validate, 5000
		for _, u := range us {
			fu := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
			fu.Feature, fu.MaxVersionLevel, fu.UpgradeType = u.name, u.level, u.typ
			req.FeatureUpdates = append(req.FeatureUpdates, fu)
		}
		return h.Handle(context.Background(), &Request{Msg: req}).Wait(context.Background()).(*kmsg.UpdateFeaturesResponse)
	}
	mv := metadata.MetadataVersionFeature
	cases := []struct {
		name string
		us   []upd
		want int16
	}{
		{"upgrade beyond 3.9-IV0", []upd{{mv, 22, 1}}, kerr.InvalidUpdateVersion.Code},
		{"safe downgrade", []upd{{mv, 20, 2}}, kerr.InvalidUpdateVersion.Code},
		{"unsafe downgrade", []upd{{mv, 20, 3}}, kerr.InvalidUpdateVersion.Code},
		{"downgrade as upgrade", []upd{{mv, 20, 1}}, kerr.InvalidUpdateVersion.Code},
		{"transaction.version 2", []upd{{"transaction.version", 2, 1}}, kerr.InvalidUpdateVersion.Code},
		{"one bad of two", []upd{{mv, 21, 1}, {"group.version", 1, 1}}, kerr.InvalidUpdateVersion.Code},
		{"twice", []upd{{mv, 21, 1}, {mv, 21, 1}}, kerr.InvalidRequest.Code},
		{"unknown upgrade type", []upd{{mv, 21, 4}}, kerr.InvalidUpdateVersion.Code},
		{"current level", []upd{{mv, 21, 1}}, 0},
		{"disable an unset feature", []upd{{"share.version", 0, 3}}, 0},
	}
	epoch := h.b.Meta.Image().FeaturesEpoch
	for _, c := range cases {
		for _, v := range []int16{1, 2} {
			r := ask(h, v, false, c.us...)
			if r.ErrorCode != c.want {
				t.Errorf("%s v%d: %v, want %v", c.name, v, kerr.ErrorForCode(r.ErrorCode), kerr.ErrorForCode(c.want))
			}
			if v == 1 && (len(r.Results) != len(c.us) || r.Results[0].ErrorCode != c.want) {
				t.Errorf("%s v1: results %+v", c.name, r.Results)
			}
		}
	}
	if r := ask(h, 1, true, upd{mv, 22, 1}); r.ErrorCode != kerr.InvalidUpdateVersion.Code {
		t.Errorf("validate-only upgrade: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if im := h.b.Meta.Image(); im.FeatureLevel(mv) != 21 || im.FeaturesEpoch != epoch {
		t.Errorf("features became %v epoch %d (was %d)", im.Features, im.FeaturesEpoch, epoch)
	}
	denied := New(h.b)
	denied.b.Authorize = func(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, res kmsg.ACLResourceType, _ string) bool {
		return !(op == kmsg.ACLOperationAlter && res == kmsg.ACLResourceTypeCluster)
	}
	if r := ask(denied, 2, false, upd{mv, 21, 1}); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("without ALTER on the cluster: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
