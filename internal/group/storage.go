package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/replica"
)

// Storage is the offsets topic as the coordinator sees it: appends to a
// partition, a durability wait, and a replay at start.
type Storage interface {
	// Partitions returns the partition count of the offsets topic, or 0
	// when it does not exist yet.
	Partitions() int32
	// Append writes one record batch to a partition (creating the topic
	// with n partitions first if needed) and returns the offset one past
	// it.
	Append(partition, n int32, batch []byte) (next int64, err error)
	// WaitDurable waits until offsets below next are on disk.
	WaitDurable(partition int32, next int64) error
	// Replay calls fn for every record of one partition led here, in
	// offset order, up to its log end: a new leader's high watermark may
	// still lag records the previous leader acknowledged. A partition of
	// an offsets topic that does not exist yet has no records.
	Replay(partition int32, fn func(key, value []byte)) error
}

const (
	// offsetsBatchBytesMax bounds one append to the offsets topic (a
	// group's metadata holds every member's subscription and assignment).
	offsetsBatchBytesMax = 16 << 20
	// replayReadBytes is how much of a partition one replay read takes.
	replayReadBytes = 1 << 20
	// replayDecompressedMax bounds a decompressed batch during replay.
	replayDecompressedMax = 64 << 20
)

// ReplicaStorage is Storage over the broker's partitions.
type ReplicaStorage struct {
	meta     *metadata.Store
	replicas *replica.Manager
	create   func(name string, partitions int32, configs map[string]string) error
	// minInsync is the offsets topic's min.insync.replicas.
	minInsync func() int

	mu sync.Mutex // serialises topic creation
}

// NewReplicaStorage returns Storage over the broker's partitions; create
// makes a topic (the handler's, so its partitions open like any other's);
// minInsync returns the offsets topic's min.insync.replicas.
func NewReplicaStorage(meta *metadata.Store, replicas *replica.Manager,
	create func(name string, partitions int32, configs map[string]string) error, minInsync func() int) *ReplicaStorage {
	return &ReplicaStorage{meta: meta, replicas: replicas, create: create, minInsync: minInsync}
}

// OffsetsTopicConfigs are Kafka's overrides for the offsets topic:
// compacted, so only the latest commit per key is kept.
func OffsetsTopicConfigs() map[string]string {
	return map[string]string{"cleanup.policy": "compact"}
}

// Partitions implements Storage.
func (r *ReplicaStorage) Partitions() int32 {
	if t, ok := r.meta.Image().Topics[OffsetsTopic]; ok {
		return t.Partitions
	}
	return 0
}

// partition returns an offsets partition led here, creating the topic
// with n partitions first when it does not exist.
func (r *ReplicaStorage) partition(partition, n int32) (*replica.Partition, error) {
	if r.Partitions() > 0 {
		return r.replicas.Leader(OffsetsTopic, partition)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s-%d is not hosted here", kerr.CoordinatorNotAvailable, OffsetsTopic, partition)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Partitions() == 0 {
		err := r.create(OffsetsTopic, n, OffsetsTopicConfigs())
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("%w: create %s: %w", kerr.CoordinatorNotAvailable, OffsetsTopic, err)
		}
	}
	return r.replicas.Leader(OffsetsTopic, partition)
}

// Append implements Storage.
func (r *ReplicaStorage) Append(partition, n int32, batch []byte) (int64, error) {
	p, err := r.partition(partition, n)
	if err != nil {
		return 0, err
	}
	// The coordinator's own records carry its clock's timestamps: no
	// CreateTime bounds apply (Kafka's defaults leave them unbounded).
	res, err := p.Append(batch, replica.AppendOptions{
		MaxMessageBytes: offsetsBatchBytesMax, Now: time.Now().UnixMilli(),
	})
	if err != nil {
		return 0, err
	}
	return res.NextOffset, nil
}

// WaitDurable implements Storage: the records are on disk on every ISR
// member, as an acks=all produce waits (Kafka appends to the offsets
// topic with acks=-1), refused with NOT_ENOUGH_REPLICAS_AFTER_APPEND when
// the ISR is smaller than the topic's min.insync.replicas.
func (r *ReplicaStorage) WaitDurable(partition int32, next int64) error {
	p, ok := r.replicas.Get(OffsetsTopic, partition)
	if !ok {
		return fmt.Errorf("%w: %s-%d is gone", kerr.CoordinatorNotAvailable, OffsetsTopic, partition)
	}
	// Storage's wait has no context: the coordinator waits for its own
	// writes in goroutines it tracks; closing the log or losing the
	// leadership ends the wait.
	return p.WaitReplicated(context.Background(), next, r.minInsync())
}

// Replay implements Storage.
func (r *ReplicaStorage) Replay(partition int32, fn func(key, value []byte)) error {
	if r.Partitions() == 0 {
		return nil
	}
	p, err := r.replicas.Leader(OffsetsTopic, partition)
	if err != nil {
		return err
	}
	return replayLog(p, fn)
}

func replayLog(p *replica.Partition, fn func(key, value []byte)) error {
	next, end := p.LogStartOffset(), p.LogEndOffset()
	for next < end {
		b, err := p.ReadToEnd(next, replayReadBytes, true)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			return nil
		}
		for len(b) > 0 {
			batch, rest, err := record.Next(b)
			if err != nil {
				return err
			}
			b = rest
			h, err := record.ParseHeader(batch)
			if err != nil {
				return err
			}
			next = h.NextOffset()
			if h.Control() {
				continue
			}
			if err := replayBatch(batch, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayBatch calls fn for each keyed record of one batch.
func replayBatch(batch []byte, fn func(key, value []byte)) error {
	return record.Records(batch, replayDecompressedMax, func(rec record.Record) bool {
		if rec.Key != nil {
			fn(rec.Key, rec.Value)
		}
		return true
	})
}
