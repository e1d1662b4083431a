package handler

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/topics"
)

// topicNameBytesMax is Kafka's limit on topic names (a partition directory
// name must fit in 255 bytes).
const topicNameBytesMax = 249

// partitionsMax bounds partitions per topic.
const partitionsMax = topics.PartitionsMax

// settings returns the resolved configs of t.
func (h *Handler) settings(t *metadata.Topic) *topics.Settings { return h.b.Topics.Settings(t) }

// validTopicName applies Kafka's rules: 1-249 of [a-zA-Z0-9._-], not "." or "..".
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > topicNameBytesMax {
		return fmt.Errorf("%w: topic name %q must be 1 to %d characters and not '.' or '..'", kerr.InvalidTopicException, name, topicNameBytesMax)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q may only contain ASCII letters, digits, '.', '_' and '-'", kerr.InvalidTopicException, name)
		}
	}
	return nil
}

// topicSpec is a validated topic creation.
type topicSpec struct {
	name              string
	partitions        int32
	replicationFactor int16
	assignment        [][]int32 // replicas per partition, nil to let the store place them
	configs           map[string]string
	cfg               *config.Topic
}

// checkTopic validates a topic creation; -1 partitions or replication
// factor take the broker defaults.
func (h *Handler) checkTopic(name string, partitions int32, replicationFactor int16, configs map[string]string) (topicSpec, error) {
	if err := validTopicName(name); err != nil {
		return topicSpec{}, err
	}
	if partitions == -1 {
		partitions = int32(h.b.Config.Int("num.partitions"))
	}
	if partitions < 1 || partitions > partitionsMax {
		return topicSpec{}, fmt.Errorf("%w: %d partitions; a topic needs 1 to %d", kerr.InvalidPartitions, partitions, partitionsMax)
	}
	if replicationFactor == -1 {
		replicationFactor = int16(h.b.Config.Int("default.replication.factor"))
	}
	if replicationFactor < 1 {
		return topicSpec{}, fmt.Errorf("%w: replication factor must be at least 1", kerr.InvalidReplicationFactor)
	}
	if live := len(h.b.Meta.Image().LiveBrokers()); int(replicationFactor) > live {
		return topicSpec{}, fmt.Errorf("%w: unable to replicate the partition %d time(s): the target replication factor of %d cannot be reached because only %d broker(s) are registered",
			kerr.InvalidReplicationFactor, replicationFactor, replicationFactor, live)
	}
	cfg, err := h.b.Config.Topic(configs)
	if err != nil {
		return topicSpec{}, fmt.Errorf("%w: %w", kerr.InvalidConfig, err)
	}
	return topicSpec{name: name, partitions: partitions, replicationFactor: replicationFactor, configs: configs, cfg: cfg}, nil
}

// createTopic stores a topic and opens its partitions; the change waits
// to be committed until ctx is done.
func (h *Handler) createTopic(ctx context.Context, spec topicSpec) (*metadata.Topic, error) {
	t, err := h.b.Meta.CreateTopic(ctx, spec.name, spec.partitions, spec.replicationFactor, spec.assignment, spec.configs)
	if err != nil {
		return nil, err
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		return nil, fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	h.b.Logger.Info("created topic", "topic", spec.name, "partitions", spec.partitions)
	return t, nil
}

// namedTwice returns the names that appear more than once in a request:
// Kafka answers each of those entries INVALID_REQUEST.
func namedTwice[T any](items []T, name func(T) string) map[string]bool {
	count := make(map[string]int, len(items))
	for _, it := range items {
		count[name(it)]++
	}
	twice := map[string]bool{}
	for n, c := range count {
		if c > 1 {
			twice[n] = true
		}
	}
	return twice
}

// nowMs is the broker's wall clock.
func nowMs() int64 { return time.Now().UnixMilli() }
