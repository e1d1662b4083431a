package topics

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// nameBytesMax is Kafka's limit on topic names (a partition directory
// name must fit in 255 bytes).
const nameBytesMax = 249

// ValidName applies Kafka's rules: 1-249 of [a-zA-Z0-9._-], not "." or "..".
func ValidName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > nameBytesMax {
		return fmt.Errorf("%w: topic name %q must be 1 to %d characters and not '.' or '..'", kerr.InvalidTopicException, name, nameBytesMax)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q may only contain ASCII letters, digits, '.', '_' and '-'", kerr.InvalidTopicException, name)
		}
	}
	return nil
}

// Spec is a validated topic creation.
type Spec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Assignment        [][]int32 // replicas per partition, nil to let the store place them
	Configs           map[string]string
	Config            *config.Topic // Configs resolved over the broker defaults
}

// Check validates a topic creation, by a client or by the broker itself;
// -1 partitions or replication factor take the broker defaults.
func (r *Registry) Check(name string, partitions int32, replicationFactor int16, configs map[string]string) (Spec, error) {
	if err := ValidName(name); err != nil {
		return Spec{}, err
	}
	if partitions == -1 {
		partitions = int32(r.cfg.Broker.Int("num.partitions"))
	}
	if partitions < 1 || partitions > PartitionsMax {
		return Spec{}, fmt.Errorf("%w: %d partitions; a topic needs 1 to %d", kerr.InvalidPartitions, partitions, PartitionsMax)
	}
	if replicationFactor == -1 {
		replicationFactor = int16(r.cfg.Broker.Int("default.replication.factor"))
	}
	if replicationFactor < 1 {
		return Spec{}, fmt.Errorf("%w: replication factor must be at least 1", kerr.InvalidReplicationFactor)
	}
	if live := len(r.cfg.Meta.Image().LiveBrokers()); int(replicationFactor) > live {
		return Spec{}, fmt.Errorf("%w: unable to replicate the partition %d time(s): the target replication factor of %d cannot be reached because only %d broker(s) are registered",
			kerr.InvalidReplicationFactor, replicationFactor, replicationFactor, live)
	}
	cfg, err := r.cfg.Broker.Topic(configs)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: %w", kerr.InvalidConfig, err)
	}
	return Spec{Name: name, Partitions: partitions, ReplicationFactor: replicationFactor, Configs: configs, Config: cfg}, nil
}

// Create stores a checked topic and opens the partitions this broker
// holds; the change waits to be committed until ctx is done.
func (r *Registry) Create(ctx context.Context, spec Spec) (*metadata.Topic, error) {
	t, err := r.cfg.Meta.CreateTopic(ctx, spec.Name, spec.Partitions, spec.ReplicationFactor, spec.Assignment, spec.Configs)
	if err != nil {
		return nil, err
	}
	if err := r.Reconcile(); err != nil {
		return nil, fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	r.cfg.Logger.Info("created topic", "topic", spec.Name, "partitions", spec.Partitions)
	return t, nil
}
