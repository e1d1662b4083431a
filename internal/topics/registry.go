// Package topics is the broker's view of the topics it knows: each topic's
// configs resolved once per metadata version (Settings), the hosted
// partitions kept in step with the metadata image (Reconcile), checking
// and creating topics (Check, Create) for clients and for the internal
// topics the broker makes for itself (CreateInternalTopic), and
// which consumer groups this broker coordinates (OwnsGroup,
// GroupCoordinator).
//
// It sits between the Kafka handlers and the parts below them: handler
// and admin read settings and coordinators here, and the broker wires the
// group coordinator to CreateInternalTopic and OwnsGroup. It decides
// nothing about the wire protocol and must not import handler; the
// partitions' data stays behind replica, the cluster's state behind
// metadata.
package topics

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/replica"
)

// PartitionsMax bounds partitions per topic so that one request cannot
// make the broker open millions of files.
const PartitionsMax = 10000

// Config is what the registry reads and changes.
type Config struct {
	NodeID   int32
	Broker   *config.Broker
	Meta     *metadata.Store
	Replicas *replica.Manager
	Logger   *slog.Logger
}

// Registry is the broker's view of its topics. It is safe for concurrent
// use.
type Registry struct {
	cfg Config

	mu       sync.Mutex // guards settings
	settings map[*metadata.Topic]*Settings
}

// New returns a registry over the broker's metadata and partitions.
func New(cfg Config) *Registry {
	return &Registry{cfg: cfg, settings: map[*metadata.Topic]*Settings{}}
}

// Reconcile opens and removes partitions to match the metadata image,
// each log configured from its topic's settings.
func (r *Registry) Reconcile() error {
	return r.cfg.Replicas.Reconcile(r.cfg.Meta.Image(), r.cfg.NodeID, r.logConfig)
}

// logConfig is the reconcile callback.
func (r *Registry) logConfig(t *metadata.Topic) log.Config {
	return LogConfig(r.Settings(t).Config)
}

// ChangeWaitMax bounds how long a topic change waits for the metadata
// quorum to commit it when nothing gives it a timeout of its own: the
// internal topics, Metadata's auto-creation, AlterConfigs, the console's
// changes. A change lost in a leader change is never committed; the
// caller hears REQUEST_TIMED_OUT, retries and finds what did happen.
const ChangeWaitMax = 5 * time.Second

// CreateInternalTopic creates a topic the broker itself writes, such as
// the offsets topic, with the replication factor internalReplicationFactor
// gives, and opens its partitions. A topic that already exists is left as
// it is.
func (r *Registry) CreateInternalTopic(name string, partitions int32, configs map[string]string) error {
	spec, err := r.Check(name, partitions, r.internalReplicationFactor(name), configs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ChangeWaitMax)
	defer cancel()
	if _, err := r.Create(ctx, spec); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err
	}
	return nil
}

// internalReplicationFactor is the replication factor an internal topic
// is created with: offsets.topic.replication.factor for the offsets topic
// (Kafka's default 3), default.replication.factor for any other, capped at
// the live brokers. Kafka refuses to create the offsets topic until that
// many brokers are live; capping instead lets one node, or a cluster
// still starting, serve groups at once, at the price of fewer replicas
// for the topic's life when it is created before the other brokers
// register (a reassignment is the way to add them).
func (r *Registry) internalReplicationFactor(name string) int16 {
	key := "default.replication.factor"
	if name == group.OffsetsTopic {
		key = "offsets.topic.replication.factor"
	}
	live := len(r.cfg.Meta.Image().LiveBrokers())
	return int16(max(1, min(r.cfg.Broker.Int(key), live)))
}
