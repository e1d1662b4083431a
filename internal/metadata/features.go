package metadata

// Feature levels (KIP-584): the finalized level of each cluster-wide
// feature lives in the metadata log as FeatureLevel records, as in a KRaft
// cluster, and ApiVersions v3+ lists them. A cluster gets its
// metadata.version in the record that names it (InitCluster's
// ClusterRecord), so a cluster created by an earlier Sluice gets it when
// its controller next starts.
//
// Sluice finalizes only metadata.version, at 3.9-IV0 (level 21), the last
// level before Kafka 4.0's: the 4.x levels stand for metadata Sluice does
// not keep (eligible leader replicas, KIP-848 and KIP-932 records), and
// clients choose nothing from metadata.version itself. The features that
// clients do choose from are left out on purpose (DESIGN.md: advertising
// a feature makes clients use it): transaction.version 2 would make
// producers use KIP-890 transactions, group.version 1 the KIP-848 consumer
// protocol, share.version KIP-932 share groups; Sluice has none of them.
// kraft.version is supported at 0 only (static voters: Sluice's quorum is
// etcd Raft, configured, not KIP-853 dynamic voters).

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Feature names, as Kafka spells them.
const (
	MetadataVersionFeature = "metadata.version"
	KRaftVersionFeature    = "kraft.version"
)

// Levels of metadata.version: Kafka's MetadataVersion feature levels.
const (
	// MetadataVersionMin is 3.3-IV3, the oldest level Kafka 4 accepts.
	MetadataVersionMin int16 = 7
	// MetadataVersionCurrent is 3.9-IV0, the level Sluice implements and
	// finalizes at cluster creation; also the highest it supports.
	MetadataVersionCurrent int16 = 21
)

// FeatureRange is the range of levels of a feature the broker supports.
type FeatureRange struct {
	Name     string
	Min, Max int16
}

// SupportedFeatures are the features every Sluice broker supports, by
// name. A feature not listed is supported at level 0 only.
var SupportedFeatures = []FeatureRange{
	{Name: KRaftVersionFeature, Min: 0, Max: 0},
	{Name: MetadataVersionFeature, Min: MetadataVersionMin, Max: MetadataVersionCurrent},
}

// supportedRange returns the supported range of a feature and whether
// Sluice knows it; an unknown feature supports level 0 only.
func supportedRange(name string) (FeatureRange, bool) {
	for _, f := range SupportedFeatures {
		if f.Name == name {
			return f, true
		}
	}
	return FeatureRange{Name: name}, false
}

// FeatureLevelRecord finalizes a feature at a level; level 0 removes it,
// as Kafka's FeatureLevelRecord does.
type FeatureLevelRecord struct {
	Name  string `json:"name"`
	Level int16  `json:"level"`
}

// FeatureLevel returns the finalized level of a feature, 0 when it is not
// finalized.
func (im *Image) FeatureLevel(name string) int16 { return im.Features[name] }

// CheckFeatureLevel says whether name may move from its finalized level to
// level, with Kafka's reasons (FeatureControlManager) as INVALID_UPDATE_VERSION
// errors. Moving to the level it has is allowed. Downgrading
// metadata.version is refused: Kafka allows a "safe" downgrade only
// between levels whose metadata records are the same, and Sluice does not
// track which levels those are.
func (im *Image) CheckFeatureLevel(name string, level int16) error {
	if level < 0 {
		return fmt.Errorf("%w: a feature version cannot be less than 0", kerr.InvalidUpdateVersion)
	}
	current := im.FeatureLevel(name)
	if level == current {
		return nil
	}
	r, known := supportedRange(name)
	if level < r.Min || level > r.Max {
		if !known {
			return fmt.Errorf("%w: invalid update version %d for feature %s: Sluice does not support this feature", kerr.InvalidUpdateVersion, level, name)
		}
		return fmt.Errorf("%w: invalid update version %d for feature %s: Sluice supports levels %d to %d", kerr.InvalidUpdateVersion, level, name, r.Min, r.Max)
	}
	if name == MetadataVersionFeature && level < current {
		return fmt.Errorf("%w: unsupported metadata.version downgrade from %d to %d: refusing to perform the requested downgrade because it might delete metadata information", kerr.InvalidUpdateVersion, current, level)
	}
	return nil
}

// setFeatureLevel applies a FeatureLevel record at log index; the index
// becomes the features epoch, so the epoch only grows.
func (im *Image) setFeatureLevel(index uint64, r *FeatureLevelRecord) Result {
	if err := im.CheckFeatureLevel(r.Name, r.Level); err != nil {
		return Result{Err: err}
	}
	im.Features = maps.Clone(im.Features)
	if im.Features == nil {
		im.Features = map[string]int16{}
	}
	if r.Level == 0 {
		delete(im.Features, r.Name)
	} else {
		im.Features[r.Name] = r.Level
	}
	im.FeaturesEpoch = int64(index)
	return Result{}
}

// initFeatures finalizes a new cluster's feature levels (a ClusterRecord's)
// if none is finalized yet; each is checked as a FeatureLevel record is.
func (im *Image) initFeatures(index uint64, levels map[string]int16) Result {
	if len(im.Features) > 0 || len(levels) == 0 {
		return Result{}
	}
	for _, name := range slices.Sorted(maps.Keys(levels)) {
		if res := im.setFeatureLevel(index, &FeatureLevelRecord{Name: name, Level: levels[name]}); res.Err != nil {
			return res
		}
	}
	return Result{}
}

// SetFeatureLevel finalizes a feature at a level, checked by
// CheckFeatureLevel when applied.
func (s *Store) SetFeatureLevel(ctx context.Context, name string, level int16) error {
	_, err := s.change(ctx, Record{FeatureLevel: &FeatureLevelRecord{Name: name, Level: level}})
	return err
}
