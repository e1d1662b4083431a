package controller

// Versions of Sluice before the metadata quorum kept a single node's
// metadata in sluice-metadata.json and its producer id block end in
// sluice-producer-ids, both in the first log dir. The first controller to
// start on such a dir names the cluster after the file's id and imports
// its topics, keeping their ids, then renames the file so the import runs
// once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// CheckLegacyFile reads an earlier version's metadata file, if there is
// one, so a corrupt file stops the start with one sentence instead of a
// cluster that never gets its id.
func CheckLegacyFile(path string) error {
	_, err := readLegacy(path)
	return err
}

// ImportLegacy imports the topics of an earlier version's single-node
// metadata file, if there is one, onto this node's registered broker.
func (c *Controller) ImportLegacy(ctx context.Context) error {
	legacy, err := readLegacy(c.legacyFile)
	if err != nil || legacy == nil {
		return err
	}
	return c.importLegacy(ctx, legacy)
}

// legacySnapshot is the metadata file written before the quorum existed.
type legacySnapshot struct {
	ClusterID string `json:"clusterId"`
	Topics    []struct {
		Name       string            `json:"name"`
		ID         metadata.TopicID  `json:"id"`
		Partitions int32             `json:"partitions"`
		Configs    map[string]string `json:"configs,omitempty"`
	} `json:"topics"`
}

func readLegacy(path string) (*legacySnapshot, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var snap legacySnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("metadata file %s is corrupt: %w", path, err)
	}
	return &snap, nil
}

// importLegacy re-creates the old file's topics on this node, keeping
// their ids, then renames the file so it is imported once.
func (c *Controller) importLegacy(ctx context.Context, snap *legacySnapshot) error {
	self := c.store.NodeID()
	for _, t := range snap.Topics {
		replicas := make([][]int32, t.Partitions)
		for i := range replicas {
			replicas[i] = []int32{self}
		}
		err := c.store.ImportTopic(ctx, metadata.CreateTopicRecord{Name: t.Name, ID: t.ID, Configs: t.Configs, Replicas: replicas})
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("import topic %q from %s: %w", t.Name, c.legacyFile, err)
		}
	}
	if b, err := os.ReadFile(c.legacyIDsFile); err == nil {
		if end, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && end > 0 {
			if _, err := c.store.AllocateProducerIDs(ctx, end); err != nil {
				return fmt.Errorf("import producer ids from %s: %w", c.legacyIDsFile, err)
			}
		}
	}
	c.store.Logger().Info("imported metadata of an earlier version", "file", c.legacyFile, "topics", len(snap.Topics))
	return os.Rename(c.legacyFile, c.legacyFile+".imported")
}
