package metadata

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestFeaturesAtCreation: a new cluster finalizes metadata.version in the
// record that names it, and a second ClusterRecord changes nothing.
func TestFeaturesAtCreation(t *testing.T) {
	s := newTestStore(t, 1, 1)
	im := s.Image()
	if got := im.FeatureLevel(MetadataVersionFeature); got != MetadataVersionCurrent {
		t.Fatalf("metadata.version %d, want %d", got, MetadataVersionCurrent)
	}
	if im.FeaturesEpoch != 1 || len(im.Features) != 1 {
		t.Fatalf("features %v epoch %d, want metadata.version only at epoch 1", im.Features, im.FeaturesEpoch)
	}
	if err := s.InitCluster(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if im2 := s.Image(); im2.FeaturesEpoch != 1 || im2.ClusterID != "test-cluster" {
		t.Fatalf("second ClusterRecord changed the epoch to %d or the id to %q", im2.FeaturesEpoch, im2.ClusterID)
	}
}

// TestFeatureLevelRules: levels move only within what Sluice supports and
// metadata.version never downgrades; a refused record changes nothing,
// an accepted one moves the epoch to its index. The image survives a
// snapshot.
func TestFeatureLevelRules(t *testing.T) {
	s := newTestStore(t, 1, 1)
	cases := []struct {
		name  string
		level int16
		ok    bool
	}{
		{MetadataVersionFeature, MetadataVersionCurrent + 1, false},
		{MetadataVersionFeature, MetadataVersionCurrent - 1, false},
		{MetadataVersionFeature, 0, false},
		{MetadataVersionFeature, -1, false},
		{"transaction.version", 2, false},
		{"group.version", 1, false},
		{KRaftVersionFeature, 1, false},
		{KRaftVersionFeature, 0, true},
		{"transaction.version", 0, true},
		{MetadataVersionFeature, MetadataVersionCurrent, true},
	}
	for _, c := range cases {
		before := s.Image()
		err := s.SetFeatureLevel(ctx, c.name, c.level)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, kerr.InvalidUpdateVersion)) {
			t.Errorf("%s=%d: %v, want ok=%v or INVALID_UPDATE_VERSION", c.name, c.level, err, c.ok)
		}
		after := s.Image()
		if c.ok != (after.FeaturesEpoch == int64(after.Index)) || (!c.ok && after.FeaturesEpoch != before.FeaturesEpoch) {
			t.Errorf("%s=%d: epoch %d at index %d (before %d)", c.name, c.level, after.FeaturesEpoch, after.Index, before.FeaturesEpoch)
		}
		if len(after.Features) != 1 || after.FeatureLevel(MetadataVersionFeature) != MetadataVersionCurrent {
			t.Errorf("%s=%d: features became %v", c.name, c.level, after.Features)
		}
	}
	_, snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := NewStore(1, s.Logger())
	if err := r.Restore(s.Image().Index, snap); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Image(), s.Image(); got.FeaturesEpoch != want.FeaturesEpoch || got.FeatureLevel(MetadataVersionFeature) != MetadataVersionCurrent {
		t.Errorf("restored features %v epoch %d, want %v epoch %d", got.Features, got.FeaturesEpoch, want.Features, want.FeaturesEpoch)
	}
}
