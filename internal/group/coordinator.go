package group

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/kafkaerr"
)

const (
	// OffsetsTopic is Kafka's internal topic of committed offsets and
	// group metadata.
	OffsetsTopic = "__consumer_offsets"
	// transactionStateTopic is Kafka's internal topic of transactions.
	transactionStateTopic = "__transaction_state"

	// shardCount is the number of goroutines owning groups. A group lives
	// on the shard of its offsets partition, so all of its records are
	// appended in the order its owner decided them.
	shardCount = 16
	// opsQueueMax bounds each shard's queue of pending operations; callers
	// block (bounded by their request context) when it is full.
	opsQueueMax = 1024
	// groupIDBytesMax bounds group ids. Kafka has no limit; ours keeps a
	// hostile id from bloating every key of the offsets topic.
	groupIDBytesMax = 255
	// groupsMaxDefault bounds the groups one broker keeps in memory.
	groupsMaxDefault = 100_000
	// membersPerGroupMax bounds members plus pending members of one group
	// even when group.max.size is left at Kafka's unbounded default.
	membersPerGroupMax = 10_000
	// metadataBytesMax is Kafka's offset.metadata.max.bytes default.
	metadataBytesMax = 4096
	// retentionCheckInterval is Kafka's offsets.retention.check.interval.ms.
	retentionCheckInterval = 10 * time.Minute
)

// Config is what the coordinator needs from the broker.
type Config struct {
	// OffsetsPartitions is offsets.topic.num.partitions, used when the
	// offsets topic does not exist yet.
	OffsetsPartitions int32
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms.
	InitialRebalanceDelay time.Duration
	// GroupMaxSize is group.max.size.
	GroupMaxSize int
	// MinSessionTimeout and MaxSessionTimeout are
	// group.min.session.timeout.ms and group.max.session.timeout.ms.
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// OffsetsRetention is offsets.retention.minutes: how long an empty
	// group keeps its committed offsets.
	OffsetsRetention time.Duration
	// GroupsMax bounds the number of groups; 0 means groupsMaxDefault.
	GroupsMax int
	// Storage is where records of the offsets topic go.
	Storage Storage
	// Owns reports whether this broker coordinates a group: in a cluster
	// the broker leading the group's offsets partition does. Nil: every
	// group is ours.
	Owns func(groupID string) bool
	// Leads reports whether this broker leads an offsets partition, so
	// that it loads that partition's groups (Reconcile). Nil: every
	// partition, as on a lone broker.
	Leads func(partition int32) bool
	// Clock is the time source; nil means the wall clock.
	Clock  Clock
	Logger *slog.Logger
}

// ConfigFrom reads the coordinator's settings from the broker config.
func ConfigFrom(cfg *config.Broker) Config {
	ms := func(key string) time.Duration { return time.Duration(cfg.Int64(key)) * time.Millisecond }
	return Config{
		OffsetsPartitions:     int32(cfg.Int("offsets.topic.num.partitions")),
		InitialRebalanceDelay: ms("group.initial.rebalance.delay.ms"),
		GroupMaxSize:          cfg.Int("group.max.size"),
		MinSessionTimeout:     ms("group.min.session.timeout.ms"),
		MaxSessionTimeout:     ms("group.max.session.timeout.ms"),
		OffsetsRetention:      time.Duration(cfg.Int64("offsets.retention.minutes")) * time.Minute,
	}
}

// Coordinator is the group coordinator: it runs Kafka's classic group
// protocol and keeps committed offsets, persisted in the offsets topic.
// Groups are owned by shard goroutines; every change to a group happens on
// its shard, fed by a bounded queue.
type Coordinator struct {
	cfg        Config
	clock      Clock
	logger     *slog.Logger
	storage    Storage
	partitions int32 // of the offsets topic; fixed at start
	shards     [shardCount]*shard
	groups     atomic.Int64 // groups across shards, bounded by cfg.GroupsMax
	done       chan struct{}
	wg         sync.WaitGroup
	closeOnce  sync.Once

	loadMu sync.Mutex  // guards loads
	loads  []loadState // per offsets partition; see failover.go
}

// shard owns a subset of the groups. Only its goroutine touches groups.
type shard struct {
	c      *Coordinator
	ops    chan func()
	groups map[string]*group
	tokens uint64 // last timer token handed out
}

// IsInternalTopic reports Kafka's internal topics (Topic.isInternal):
// clients read them, but only the broker appends to them.
func IsInternalTopic(name string) bool {
	return name == OffsetsTopic || name == transactionStateTopic
}

// errClosed answers requests that arrive while the coordinator stops.
var errClosed = fmt.Errorf("%w: the group coordinator is shutting down", kerr.CoordinatorNotAvailable)

// Start loads committed offsets and group state from storage and starts
// the shard goroutines.
func Start(cfg Config) (*Coordinator, error) {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GroupsMax <= 0 {
		cfg.GroupsMax = groupsMaxDefault
	}
	if cfg.OffsetsPartitions <= 0 {
		cfg.OffsetsPartitions = 50
	}
	c := &Coordinator{cfg: cfg, clock: cfg.Clock, logger: cfg.Logger, storage: cfg.Storage, done: make(chan struct{})}
	c.partitions = cfg.OffsetsPartitions
	if n := c.storage.Partitions(); n > 0 {
		c.partitions = n
	}
	for i := range c.shards {
		c.shards[i] = &shard{c: c, ops: make(chan func(), opsQueueMax), groups: map[string]*group{}}
	}
	start := c.clock.Now()
	if err := c.loadInitial(); err != nil {
		return nil, fmt.Errorf("load %s: %w", OffsetsTopic, err)
	}
	c.logger.Debug("groups loaded", "groups", c.groups.Load(), "took", c.clock.Now().Sub(start))
	for _, s := range c.shards {
		c.wg.Add(1)
		go s.run()
		s.do(func() { s.afterLoad() })
	}
	c.scheduleRetention()
	return c, nil
}

// A nil *Coordinator answers every request with COORDINATOR_NOT_AVAILABLE,
// so a handler built without one (as in the server's tests) stays total.

// Close stops the shards. Requests waiting on a group are answered with
// COORDINATOR_NOT_AVAILABLE, as a moving coordinator would answer them.
func (c *Coordinator) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.wg.Wait()
	})
}

// PartitionFor is Kafka's choice of offsets partition for a group:
// abs(groupId.hashCode()) % partitions, with Java's String.hashCode.
func PartitionFor(groupID string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(groupID)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 { // Kafka's Utils.abs maps MIN_VALUE to 0
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

func (c *Coordinator) shardFor(groupID string) *shard {
	return c.shards[PartitionFor(groupID, c.partitions)%shardCount]
}

func (s *shard) run() {
	defer s.c.wg.Done()
	for {
		select {
		case op := <-s.ops:
			op()
		case <-s.c.done:
			s.shutdown()
			return
		}
	}
}

// do queues op on the shard; false when the coordinator is closed.
func (s *shard) do(op func()) bool {
	select {
	case s.ops <- op:
		return true
	case <-s.c.done:
		return false
	}
}

// call runs fn on the shard and waits for its result.
func call[T any](ctx context.Context, s *shard, fn func() T) (T, error) {
	ch := make(chan T, 1)
	var zero T
	if !s.do(func() { ch <- fn() }) {
		return zero, errClosed
	}
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-s.c.done:
		return zero, errClosed
	}
}

// after schedules fn on the shard after d. fn gets the timer's token so it
// can ignore a fire that raced with a Stop.
func (s *shard) after(d time.Duration, fn func(token uint64)) (Timer, uint64) {
	s.tokens++
	token := s.tokens
	t := s.c.clock.AfterFunc(d, func() { s.do(func() { fn(token) }) })
	return t, token
}

// shutdown answers every parked request.
func (s *shard) shutdown() {
	for _, g := range s.groups {
		for _, m := range g.members {
			m.stopTimer()
			if m.join != nil {
				m.join.fail(kerr.CoordinatorNotAvailable.Code)
				m.join = nil
			}
			if m.sync != nil {
				m.sync.fail(kerr.CoordinatorNotAvailable.Code)
				m.sync = nil
			}
		}
		g.stopRebalanceTimer()
		g.stopSyncTimer()
	}
}

// checkGroup returns INVALID_GROUP_ID for an id Kafka refuses,
// NOT_COORDINATOR for a group another broker coordinates (the client looks
// the coordinator up again), COORDINATOR_LOAD_IN_PROGRESS while its
// offsets partition loads here (the client retries), else 0.
func (c *Coordinator) checkGroup(id string, allowEmpty bool) int16 {
	if err := validGroupID(id, allowEmpty); err != nil {
		return kerr.InvalidGroupID.Code
	}
	if c.cfg.Owns != nil && !c.cfg.Owns(id) {
		return kerr.NotCoordinator.Code
	}
	if c.partitionState(PartitionFor(id, c.partitions)) != loaded {
		return kerr.CoordinatorLoadInProgress.Code
	}
	return 0
}

// validGroupID applies Kafka's rule (empty ids are allowed for the offset
// and admin APIs, for old consumers) plus our length bound.
func validGroupID(id string, allowEmpty bool) error {
	if id == "" && !allowEmpty {
		return fmt.Errorf("%w: the group id must not be empty", kerr.InvalidGroupID)
	}
	if len(id) > groupIDBytesMax {
		return fmt.Errorf("%w: the group id is %d bytes, more than %d", kerr.InvalidGroupID, len(id), groupIDBytesMax)
	}
	return nil
}

// newGroup creates a group on s, or fails when the broker holds
// GroupsMax groups already.
func (s *shard) newGroup(id string) (*group, error) {
	if s.c.groups.Add(1) > int64(s.c.cfg.GroupsMax) {
		s.c.groups.Add(-1)
		return nil, fmt.Errorf("%w: the broker holds its maximum of %d groups", kerr.CoordinatorNotAvailable, s.c.cfg.GroupsMax)
	}
	g := &group{id: id, s: s, state: StateEmpty, stateSince: s.c.clock.Now(),
		members: map[string]*member{}, static: map[string]string{}, pending: map[string]*member{},
		pendingSync: map[string]bool{}, offsets: map[topicPartition]offset{}, pendingOffsets: map[topicPartition]offset{}}
	s.groups[id] = g
	return g, nil
}

// removeGroup forgets a group (after DeleteGroups, retention or an
// unload).
func (s *shard) removeGroup(g *group) {
	g.stopRebalanceTimer()
	g.stopSyncTimer()
	for _, m := range g.pending {
		m.stopTimer()
	}
	for _, m := range g.members {
		m.stopTimer()
	}
	g.state = StateDead
	delete(s.groups, g.id)
	s.c.groups.Add(-1)
}

// codeOf maps an error to its Kafka error code, as every part of the
// broker does (kafkaerr).
var codeOf = kafkaerr.Code
