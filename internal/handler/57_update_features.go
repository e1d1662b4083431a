package handler

// UpdateFeatures, key 57, versions 0-2 (kafka-features upgrade, downgrade,
// disable; Admin.updateFeatures). Features are described through
// ApiVersions (18_api_versions.go), as Kafka 4 does. ALTER on the cluster
// is required. The request is checked as a whole, as Kafka's controller
// does (FeatureControlManager): one refused update refuses them all, with
// one top-level error that v0-v1 repeat for every feature; ValidateOnly
// (v1+) checks and changes nothing. The rules are metadata's
// (Image.CheckFeatureLevel): a feature moves only within the levels Sluice
// supports, and metadata.version is never downgraded, so today the only
// accepted updates leave levels as they are; the upgrade type is checked
// first, with Kafka's words.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// Kafka's FeatureUpdate.UpgradeType values (v1+); v0's AllowDowngrade
// means a safe downgrade.
const (
	upgradeTypeUpgrade         = 1
	upgradeTypeSafeDowngrade   = 2
	upgradeTypeUnsafeDowngrade = 3
)

func (h *Handler) updateFeatures(ctx context.Context, who protocol.Principal, req *kmsg.UpdateFeaturesRequest) *kmsg.UpdateFeaturesResponse {
	resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	err := h.checkFeatureUpdates(ctx, who, req)
	if err == nil && !req.ValidateOnly {
		err = h.applyFeatureUpdates(ctx, req)
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
	}
	for _, u := range req.FeatureUpdates {
		r := kmsg.NewUpdateFeaturesResponseResult()
		r.Feature, r.ErrorCode, r.ErrorMessage = u.Feature, resp.ErrorCode, resp.ErrorMessage
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// checkFeatureUpdates checks who may update features and every update
// against the current image, before anything changes.
func (h *Handler) checkFeatureUpdates(ctx context.Context, who protocol.Principal, req *kmsg.UpdateFeaturesRequest) error {
	if !h.allowedCluster(ctx, who, kmsg.ACLOperationAlter) {
		return errClusterDenied
	}
	im := h.b.Meta.Image()
	seen := make(map[string]bool, len(req.FeatureUpdates))
	for _, u := range req.FeatureUpdates {
		if seen[u.Feature] {
			return fmt.Errorf("%w: the feature %s is updated twice", kerr.InvalidRequest, u.Feature)
		}
		seen[u.Feature] = true
		upgradeType := u.UpgradeType
		if req.Version == 0 {
			upgradeType = upgradeTypeUpgrade
			if u.AllowDowngrade {
				upgradeType = upgradeTypeSafeDowngrade
			}
		}
		current := im.FeatureLevel(u.Feature)
		switch {
		case upgradeType < upgradeTypeUpgrade || upgradeType > upgradeTypeUnsafeDowngrade:
			return fmt.Errorf("%w: the controller does not support the given upgrade type", kerr.InvalidUpdateVersion)
		case upgradeType == upgradeTypeUpgrade && u.MaxVersionLevel < current:
			return fmt.Errorf("%w: can't downgrade the version of feature %s without setting the upgrade type to either safe or unsafe downgrade", kerr.InvalidUpdateVersion, u.Feature)
		case upgradeType != upgradeTypeUpgrade && u.MaxVersionLevel > current:
			return fmt.Errorf("%w: can't downgrade feature %s to a newer version", kerr.InvalidUpdateVersion, u.Feature)
		}
		if err := im.CheckFeatureLevel(u.Feature, u.MaxVersionLevel); err != nil {
			return err
		}
	}
	return nil
}

// applyFeatureUpdates proposes a FeatureLevel record for each update that
// changes a level; apply checks each again.
func (h *Handler) applyFeatureUpdates(ctx context.Context, req *kmsg.UpdateFeaturesRequest) error {
	for _, u := range req.FeatureUpdates {
		if h.b.Meta.Image().FeatureLevel(u.Feature) == u.MaxVersionLevel {
			continue
		}
		if err := h.b.Meta.SetFeatureLevel(ctx, u.Feature, u.MaxVersionLevel); err != nil {
			return err
		}
	}
	return nil
}
