package topics

import (
	"math"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/replica"
)

const (
	// settingsVersionsPerTopic and settingsCacheSlack bound the settings
	// cache. It is keyed by the immutable *metadata.Topic, and every
	// change to a topic (configs, partitions) makes a new one, so entries
	// of replaced versions pile up. Rather than track which are stale, the
	// cache is cleared once it holds more than a few versions per live
	// topic; clearing costs one re-resolve per topic in use. The slack
	// keeps a broker with few topics from clearing on every change.
	settingsVersionsPerTopic = 4
	settingsCacheSlack       = 64
)

// Settings is a topic's configs resolved once per metadata version, in
// the forms the produce path uses.
type Settings struct {
	Config          *config.Topic
	LogAppendTime   bool // message.timestamp.type is LogAppendTime
	MaxMessageBytes int  // max.message.bytes
	// TimestampWindow bounds CreateTime timestamps
	// (message.timestamp.before/after.max.ms); nil when unbounded.
	TimestampWindow *replica.TimestampWindow
	// Recompress is the codec compression.type re-encodes batches to;
	// nil for "producer", which keeps them as sent.
	Recompress  *record.Codec
	RequireKeys bool // cleanup.policy includes compact
	// MinInsyncReplicas is min.insync.replicas: the ISR an acks=all
	// produce needs.
	MinInsyncReplicas int
}

// Settings returns the resolved configs of t, cached per immutable Topic.
func (r *Registry) Settings(t *metadata.Topic) *Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.settings[t]; ok {
		return s
	}
	cfg, err := r.cfg.Broker.Topic(t.Configs)
	if err != nil {
		// Overrides were validated when stored; a broker upgrade that no
		// longer accepts one falls back to the broker defaults.
		r.cfg.Logger.Warn("ignoring invalid stored topic configs", "topic", t.Name, "err", err)
		cfg, _ = r.cfg.Broker.Topic(nil)
	}
	s := &Settings{
		Config:            cfg,
		LogAppendTime:     cfg.String("message.timestamp.type") == "LogAppendTime",
		MaxMessageBytes:   cfg.Int("max.message.bytes"),
		Recompress:        topicCodec(cfg.String("compression.type")),
		RequireKeys:       slices.Contains(cfg.List("cleanup.policy"), "compact"),
		MinInsyncReplicas: cfg.Int("min.insync.replicas"),
	}
	before, after := cfg.Int64("message.timestamp.before.max.ms"), cfg.Int64("message.timestamp.after.max.ms")
	if before != math.MaxInt64 || after != math.MaxInt64 {
		s.TimestampWindow = &replica.TimestampWindow{BeforeMs: before, AfterMs: after}
	}
	if len(r.settings) > settingsVersionsPerTopic*len(r.cfg.Meta.Image().Topics)+settingsCacheSlack {
		clear(r.settings) // drop entries of replaced topic versions
	}
	r.settings[t] = s
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
