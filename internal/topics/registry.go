// Package topics is the broker's view of the topics it knows: each topic's
// configs resolved once per metadata version (Settings), the hosted
// partitions kept in step with the metadata image (Reconcile), the
// internal topics the broker creates for itself (CreateInternalTopic), and
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
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/config"
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

// internalTopicWaitMax bounds how long creating an internal topic waits
// for the metadata quorum to commit it; the caller (the group
// coordinator's first FindCoordinator) retries after a timeout.
const internalTopicWaitMax = 5 * time.Second

// CreateInternalTopic creates a topic the broker itself writes, such as
// the offsets topic, with replication factor 1, and opens its partitions.
// A topic that already exists is left as it is.
func (r *Registry) CreateInternalTopic(name string, partitions int32, configs map[string]string) error {
	if partitions < 1 || partitions > PartitionsMax {
		return fmt.Errorf("%w: %d partitions; a topic needs 1 to %d", kerr.InvalidPartitions, partitions, PartitionsMax)
	}
	if live := len(r.cfg.Meta.Image().LiveBrokers()); live < 1 {
		return fmt.Errorf("%w: unable to replicate the partition 1 time(s): the target replication factor of 1 cannot be reached because only %d broker(s) are registered",
			kerr.InvalidReplicationFactor, live)
	}
	if _, err := r.cfg.Broker.Topic(configs); err != nil {
		return fmt.Errorf("%w: %w", kerr.InvalidConfig, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), internalTopicWaitMax)
	defer cancel()
	if _, err := r.cfg.Meta.CreateTopic(ctx, name, partitions, 1, nil, configs); err != nil {
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	}
	if err := r.Reconcile(); err != nil {
		return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	r.cfg.Logger.Info("created topic", "topic", name, "partitions", partitions)
	return nil
}
