package handler

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/replica"
)

// topicNameBytesMax is Kafka's limit on topic names (a partition directory
// name must fit in 255 bytes).
const topicNameBytesMax = 249

// partitionsMax bounds partitions per topic so that one request cannot make
// the broker open millions of files.
const partitionsMax = 10000

// topicSettings is a topic's configs resolved once per metadata version.
type topicSettings struct {
	cfg             *config.Topic
	logAppendTime   bool
	maxMessageBytes int
	timestampWindow *replica.TimestampWindow // nil when unbounded
	recompress      *record.Codec
	requireKeys     bool // cleanup.policy includes compact
}

// settings returns the resolved configs of t, cached per immutable Topic.
func (h *Handler) settings(t *metadata.Topic) *topicSettings {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.settingsCache[t]; ok {
		return s
	}
	cfg, err := h.b.Config.Topic(t.Configs)
	if err != nil {
		// Overrides were validated when stored; a broker upgrade that no
		// longer accepts one falls back to the broker defaults.
		h.b.Logger.Warn("ignoring invalid stored topic configs", "topic", t.Name, "err", err)
		cfg, _ = h.b.Config.Topic(nil)
	}
	s := &topicSettings{
		cfg:             cfg,
		logAppendTime:   cfg.String("message.timestamp.type") == "LogAppendTime",
		maxMessageBytes: cfg.Int("max.message.bytes"),
		recompress:      topicCodec(cfg.String("compression.type")),
		requireKeys:     slices.Contains(cfg.List("cleanup.policy"), "compact"),
	}
	before, after := cfg.Int64("message.timestamp.before.max.ms"), cfg.Int64("message.timestamp.after.max.ms")
	if before != math.MaxInt64 || after != math.MaxInt64 {
		s.timestampWindow = &replica.TimestampWindow{BeforeMs: before, AfterMs: after}
	}
	if len(h.settingsCache) > 4*len(h.b.Meta.Image().Topics)+64 {
		clear(h.settingsCache) // drop entries of replaced topic versions
	}
	h.settingsCache[t] = s
	return s
}

// topicCodec maps compression.type to the codec the broker re-encodes to;
// nil for "producer", which keeps batches as sent.
func topicCodec(compressionType string) *record.Codec {
	codecs := map[string]record.Codec{"uncompressed": record.CodecNone, "gzip": record.CodecGzip,
		"snappy": record.CodecSnappy, "lz4": record.CodecLZ4, "zstd": record.CodecZstd}
	c, ok := codecs[compressionType]
	if !ok {
		return nil
	}
	return &c
}

// LogConfig derives a partition log's config from a topic's configs.
func LogConfig(cfg *config.Topic) log.Config {
	return log.Config{
		SegmentBytes:       cfg.Int64("segment.bytes"),
		SegmentMs:          cfg.Int64("segment.ms"),
		IndexIntervalBytes: cfg.Int("index.interval.bytes"),
		IndexBytesMax:      cfg.Int("segment.index.bytes"),
		FlushMessages:      cfg.Int64("flush.messages"),
		FlushMs:            cfg.Int64("flush.ms"),
		RetentionMs:        cfg.Int64("retention.ms"),
		RetentionBytes:     cfg.Int64("retention.bytes"),
		DeleteRetention:    slices.Contains(cfg.List("cleanup.policy"), "delete"),
		SegmentDeleteDelay: time.Duration(cfg.Int64("file.delete.delay.ms")) * time.Millisecond,

		Compact:                slices.Contains(cfg.List("cleanup.policy"), "compact"),
		DeleteRetentionMs:      cfg.Int64("delete.retention.ms"),
		MinCompactionLagMs:     cfg.Int64("min.compaction.lag.ms"),
		MaxCompactionLagMs:     cfg.Int64("max.compaction.lag.ms"),
		MinCleanableDirtyRatio: cfg.Float64("min.cleanable.dirty.ratio"),
	}
}

// logConfig is the reconcile callback.
func (h *Handler) logConfig(t *metadata.Topic) log.Config {
	return LogConfig(h.settings(t).cfg)
}

// Reconcile opens and removes partitions to match the metadata image.
func (h *Handler) Reconcile() error {
	return h.b.Replicas.Reconcile(h.b.Meta.Image(), h.b.NodeID, h.logConfig)
}

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

// createTopic stores a topic and opens its partitions.
func (h *Handler) createTopic(spec topicSpec) (*metadata.Topic, error) {
	t, err := h.b.Meta.CreateTopic(spec.name, spec.partitions, spec.replicationFactor, spec.assignment, spec.configs)
	if err != nil {
		return nil, err
	}
	if err := h.Reconcile(); err != nil {
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
