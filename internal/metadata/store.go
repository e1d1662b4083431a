package metadata

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Log is the replicated log the Store proposes to: a Raft quorum, or a
// MemoryLog in tests.
type Log interface {
	// Propose hands data to the log; it returns once the log accepted it,
	// not when it is committed. Committed data reaches Store.Apply.
	Propose(ctx context.Context, data []byte) error
	// Leader is the node id of the active controller, -1 if unknown.
	Leader() int32
}

const (
	// leaderPoll is how often a waiting proposal checks the leader, and
	// leaderChangeGrace how long it still waits once the leader changed.
	leaderPoll        = 50 * time.Millisecond
	leaderChangeGrace = 500 * time.Millisecond
	// waitersMax bounds proposals waiting for their outcome.
	waitersMax = 10_000
)

// Store is the metadata state machine on one node: it applies committed
// records to the Image and hands each proposer its outcome.
//
// Its mutators take a context: a change waits to be applied until ctx is
// done, then fails with an error that wraps both REQUEST_TIMED_OUT (what
// a client hears) and ctx's error. A proposal lost in a leader change is
// never applied; the client retries and finds what did happen. Every
// caller gives the wait a deadline: the store has none of its own.
type Store struct {
	nodeID int32
	logger *slog.Logger
	log    Log // set by SetLog before any change is proposed

	image   atomic.Pointer[Image]
	seq     atomic.Uint64
	session string // distinguishes this process's request ids from an earlier run's

	history *history // applied entries for observers

	mu      sync.Mutex // guards waiters and watchers
	waiters map[string]chan Result
	changed chan struct{} // signalled (never blocking) after every apply
}

// NewStore returns an empty store for node nodeID.
func NewStore(nodeID int32, logger *slog.Logger) *Store {
	var b [6]byte
	rand.Read(b[:])
	s := &Store{nodeID: nodeID, logger: logger, session: base64.RawURLEncoding.EncodeToString(b[:]),
		waiters: map[string]chan Result{}, changed: make(chan struct{}, 1), history: newHistory()}
	s.image.Store(emptyImage())
	return s
}

// SetLog attaches the log proposals go to.
func (s *Store) SetLog(l Log) { s.log = l }

// Image returns the current metadata.
func (s *Store) Image() *Image { return s.image.Load() }

// NodeID is this node's id.
func (s *Store) NodeID() int32 { return s.nodeID }

// Leader is the active controller's node id, -1 if none is known.
func (s *Store) Leader() int32 { return s.log.Leader() }

// Logger is the logger the store reports with; the controller duties and
// transports built on the store report with it too.
func (s *Store) Logger() *slog.Logger { return s.logger }

// Changed is signalled after records are applied; a reader that was busy
// sees one signal for many changes.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Apply applies one committed entry. The log calls it in index order from
// one goroutine. An entry that does not decode is skipped on every node
// alike (it was proposed by a newer or broken version) and logged.
func (s *Store) Apply(index uint64, data []byte) {
	cur := s.image.Load()
	e, err := decodeEntry(data)
	if err != nil {
		s.logger.Error("skipping metadata record", "index", index, "err", err)
		next := *cur
		next.Index = index
		s.image.Store(&next)
		s.history.add(index, data) // observers skip it alike
		return
	}
	next, res := cur.apply(index, &e.Record)
	s.image.Store(next)
	s.history.add(index, data)
	s.mu.Lock()
	if ch, ok := s.waiters[e.Req]; ok {
		delete(s.waiters, e.Req)
		ch <- res
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// snapshotFile is the Snapshot format: the image's content in full.
type snapshotFile struct {
	Version        int       `json:"version"`
	Index          uint64    `json:"index"`
	ClusterID      string    `json:"clusterId"`
	Brokers        []*Broker `json:"brokers"`
	Topics         []*Topic  `json:"topics"`
	NextProducerID int64     `json:"nextProducerId"`
	ACLs           []*ACL    `json:"acls,omitempty"`
	// Scram are the SCRAM credentials, salted (keys, never passwords).
	Scram []*ScramCredential `json:"scram,omitempty"`
	// Features and FeaturesEpoch are absent from snapshots written
	// before feature levels existed (epoch 0 then reads as none).
	Features      map[string]int16 `json:"features,omitempty"`
	FeaturesEpoch int64            `json:"featuresEpoch,omitempty"`
}

// Snapshot serialises the image at the last applied index.
func (s *Store) Snapshot() (uint64, []byte, error) {
	im := s.image.Load()
	snap := snapshotFile{Version: 1, Index: im.Index, ClusterID: im.ClusterID, NextProducerID: im.NextProducerID,
		Topics: im.SortedTopics(), ACLs: im.SortedACLs(), Scram: im.SortedScramCredentials(),
		Features: im.Features, FeaturesEpoch: im.FeaturesEpoch}
	for _, id := range slices.Sorted(maps.Keys(im.Brokers)) {
		snap.Brokers = append(snap.Brokers, im.Brokers[id])
	}
	b, err := json.Marshal(&snap)
	return im.Index, b, err
}

// Restore replaces the image with a snapshot.
func (s *Store) Restore(index uint64, data []byte) error {
	var snap snapshotFile
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("metadata snapshot is corrupt: %w", err)
	}
	im := emptyImage()
	im.Index, im.ClusterID, im.NextProducerID = index, snap.ClusterID, snap.NextProducerID
	if len(snap.Features) > 0 {
		im.Features, im.FeaturesEpoch = snap.Features, snap.FeaturesEpoch
	}
	for _, b := range snap.Brokers {
		im.Brokers[b.ID] = b
	}
	for _, t := range snap.Topics {
		if int(t.Partitions) != len(t.Assignments) {
			return fmt.Errorf("metadata snapshot is corrupt: topic %q has %d partitions and %d assignments", t.Name, t.Partitions, len(t.Assignments))
		}
		im.Topics[t.Name], im.byID[t.ID] = t, t
	}
	if len(snap.ACLs) > 0 {
		im.ACLs = make(map[string]*ACL, len(snap.ACLs))
		for _, a := range snap.ACLs {
			im.ACLs[a.ID] = a
		}
	}
	if len(snap.Scram) > 0 {
		im.Scram = make(map[ScramKey]*ScramCredential, len(snap.Scram))
		for _, c := range snap.Scram {
			im.Scram[c.ScramKey] = c
		}
	}
	s.image.Store(im)
	s.history.reset()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

// propose proposes r and waits until it is applied here, returning the
// outcome apply decided, or until ctx is done.
func (s *Store) propose(ctx context.Context, r Record) (Result, error) {
	if err := ctx.Err(); err != nil {
		// Kafka's controller likewise times out a change whose deadline
		// passed before it ran, without making it.
		return Result{}, fmt.Errorf("%w: the metadata change was not proposed: its time was up: %w", kerr.RequestTimedOut, err)
	}
	req := s.session + "-" + strconv.Itoa(int(s.nodeID)) + "-" + strconv.FormatUint(s.seq.Add(1), 10)
	data, err := encodeEntry(&Entry{Req: req, Record: r})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", kerr.InvalidRequest, err)
	}
	ch := make(chan Result, 1)
	s.mu.Lock()
	if len(s.waiters) >= waitersMax {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("%w: too many metadata changes in flight", kerr.ThrottlingQuotaExceeded)
	}
	s.waiters[req] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, req)
		s.mu.Unlock()
	}()
	leader := s.log.Leader()
	if err := s.log.Propose(ctx, data); err != nil {
		if ctx.Err() != nil {
			return Result{}, timedOut(ctx)
		}
		return Result{}, fmt.Errorf("%w: no active controller accepted the change: %w", kerr.NotController, err)
	}
	return s.await(ctx, ch, leader)
}

// timedOut is the error of a change still unapplied when ctx ended.
func timedOut(ctx context.Context) error {
	return fmt.Errorf("%w: the metadata change was not committed in time; it may still take effect: %w", kerr.RequestTimedOut, ctx.Err())
}

// await waits for a proposal's outcome. A proposal in flight when the
// leader changes is often lost; after leaderChangeGrace without it, the
// client hears NOT_CONTROLLER at once (retriable) rather than waiting
// until ctx ends.
func (s *Store) await(ctx context.Context, ch <-chan Result, leader int32) (Result, error) {
	poll := time.NewTicker(leaderPoll)
	defer poll.Stop()
	var changedAt time.Time
	for {
		select {
		case res := <-ch:
			return res, nil
		case <-ctx.Done():
			select {
			case res := <-ch: // applied as ctx ended: the outcome is known
				return res, nil
			default:
			}
			return Result{}, timedOut(ctx)
		case now := <-poll.C:
			switch {
			case s.log.Leader() == leader:
				changedAt = time.Time{}
			case changedAt.IsZero():
				changedAt = now
			case now.Sub(changedAt) >= leaderChangeGrace:
				return Result{}, fmt.Errorf("%w: the active controller changed while the change was in flight; it may still take effect", kerr.NotController)
			}
		}
	}
}

// change proposes r and returns apply's verdict as an error.
func (s *Store) change(ctx context.Context, r Record) (Result, error) {
	res, err := s.propose(ctx, r)
	if err != nil {
		return res, err
	}
	return res, res.Err
}

// InitCluster names the cluster if it has no id yet, and finalizes
// metadata.version at MetadataVersionCurrent if no feature is finalized
// yet (a new cluster, or one created before feature levels existed), in
// the same record.
func (s *Store) InitCluster(ctx context.Context, id string) error {
	if id == "" {
		b := newID()
		id = base64.RawURLEncoding.EncodeToString(b[:])
	}
	features := map[string]int16{MetadataVersionFeature: MetadataVersionCurrent}
	_, err := s.change(ctx, Record{Cluster: &ClusterRecord{ID: id, Features: features}})
	return err
}

// RegisterBroker registers a broker and returns its epoch. Brokers
// register through the active controller (Controller.Register), which
// refuses a second live process with the same node.id first.
func (s *Store) RegisterBroker(ctx context.Context, r RegisterBrokerRecord) (uint64, error) {
	res, err := s.change(ctx, Record{RegisterBroker: &r})
	return res.BrokerEpoch, err
}

// FenceBroker fences or unfences a broker registration.
func (s *Store) FenceBroker(ctx context.Context, id int32, epoch uint64, fenced bool) error {
	_, err := s.change(ctx, Record{FenceBroker: &FenceBrokerRecord{ID: id, Epoch: epoch, Fenced: fenced}})
	return err
}

// CreateTopic adds a topic with the given replicas per partition, or
// placed over the live brokers when replicas is nil. It fails with
// TOPIC_ALREADY_EXISTS if the name is taken.
func (s *Store) CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16, replicas [][]int32, configs map[string]string) (*Topic, error) {
	if replicas == nil {
		var err error
		if replicas, err = s.Image().Place(partitions, replicationFactor); err != nil {
			return nil, err
		}
	}
	res, err := s.change(ctx, Record{CreateTopic: &CreateTopicRecord{Name: name, ID: newID(), Configs: configs, Replicas: replicas}})
	return res.Topic, err
}

// ImportTopic adds a topic that already has an id, as an import of an
// earlier version's metadata does. It fails with TOPIC_ALREADY_EXISTS if
// the name is taken.
func (s *Store) ImportTopic(ctx context.Context, r CreateTopicRecord) error {
	_, err := s.change(ctx, Record{CreateTopic: &r})
	return err
}

// DeleteTopic removes a topic.
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	t, ok := s.Image().Topics[name]
	if !ok {
		return fmt.Errorf("%w: topic %q", kerr.UnknownTopicOrPartition, name)
	}
	_, err := s.change(ctx, Record{DeleteTopic: &DeleteTopicRecord{ID: t.ID, Name: name}})
	return err
}

// SetConfigs replaces a topic's config overrides.
func (s *Store) SetConfigs(ctx context.Context, name string, configs map[string]string) error {
	t, ok := s.Image().Topics[name]
	if !ok {
		return fmt.Errorf("%w: topic %q", kerr.UnknownTopicOrPartition, name)
	}
	_, err := s.change(ctx, Record{SetConfigs: &SetConfigsRecord{ID: t.ID, Configs: maps.Clone(configs)}})
	return err
}

// SetPartitions grows a topic to count partitions, placed like a new
// topic's with the replication factor of its first partition.
func (s *Store) SetPartitions(ctx context.Context, name string, count int32) error {
	im := s.Image()
	t, ok := im.Topics[name]
	if !ok {
		return fmt.Errorf("%w: topic %q", kerr.UnknownTopicOrPartition, name)
	}
	if count <= t.Partitions {
		return fmt.Errorf("%w: topic %q has %d partitions, cannot set %d", kerr.InvalidPartitions, name, t.Partitions, count)
	}
	replicas, err := im.Place(count-t.Partitions, int16(len(t.Assignments[0].Replicas)))
	if err != nil {
		return err
	}
	_, err = s.change(ctx, Record{CreatePartitions: &CreatePartitionsRecord{ID: t.ID, From: t.Partitions, Replicas: replicas}})
	return err
}

// AllocateProducerIDs reserves count producer ids for this broker and
// returns the first.
func (s *Store) AllocateProducerIDs(ctx context.Context, count int64) (int64, error) {
	res, err := s.change(ctx, Record{ProducerIDs: &ProducerIDsRecord{Broker: s.nodeID, Count: count}})
	return res.ProducerIDStart, err
}

// AlterPartition proposes a leader's ISR change and returns the
// partition as apply left it. Apply refuses it, with Kafka's error, when
// the topic or partition is unknown (UNKNOWN_TOPIC_OR_PARTITION), the
// leader's broker epoch is not current (STALE_BROKER_EPOCH), it no longer
// leads (NOT_LEADER_OR_FOLLOWER), its leader epoch (FENCED_LEADER_EPOCH)
// or partition epoch (INVALID_UPDATE_VERSION) is not current, the ISR is
// malformed (INVALID_REQUEST) or adds a fenced or unregistered broker
// (INELIGIBLE_REPLICA). The returned ISR is in replica order.
func (s *Store) AlterPartition(ctx context.Context, r AlterPartitionRecord) (Partition, error) {
	r.ISR = slices.Clone(r.ISR)
	res, err := s.change(ctx, Record{AlterPartition: &r})
	if err != nil {
		return Partition{}, err
	}
	p := *res.Partition
	p.Replicas, p.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR) // the image's stay untouched
	return p, nil
}

// ElectLeaders runs a leader election in one partition (Kafka's
// ElectLeaders for one partition) and returns the partition as apply
// left it. The preferred election (unclean false) moves leadership to the
// first replica; it fails with ELECTION_NOT_NEEDED where that replica
// leads and PREFERRED_LEADER_NOT_AVAILABLE where it is not a live ISR
// member. The unclean election gives a leaderless partition a leader,
// from the ISR if a member is live, else any live replica, losing what
// only the old ISR held; it fails with ELECTION_NOT_NEEDED where the
// partition has a leader and ELIGIBLE_LEADERS_NOT_AVAILABLE where no
// replica is live. Whether unclean election is allowed for the topic is
// the caller's decision. An unclean outcome is logged as a warning.
func (s *Store) ElectLeaders(ctx context.Context, topicID TopicID, partition int32, unclean bool) (Partition, error) {
	var lastISR []int32
	if t, ok := s.Image().TopicByID(topicID); ok && partition >= 0 && partition < t.Partitions {
		lastISR = t.Assignments[partition].ISR
	}
	res, err := s.change(ctx, Record{ElectLeader: &ElectLeaderRecord{TopicID: topicID, Partition: partition, Unclean: unclean}})
	if err != nil {
		return Partition{}, err
	}
	p := *res.Partition
	if res.Unclean {
		s.logger.Warn("unclean leader election: a replica outside the ISR leads; records acknowledged only by the last ISR are lost",
			"topic", res.Topic.Name, "partition", partition, "leader", p.Leader, "leaderEpoch", p.LeaderEpoch, "lastISR", lastISR)
	}
	p.Replicas, p.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR) // the image's stay untouched
	return p, nil
}

// ProposeEncoded proposes an entry that another node's Store encoded (an
// observer forwards its proposals to a voter), refusing bytes that do not
// decode. It returns once the log accepted the entry: the proposer learns
// the outcome from its own applied log.
func (s *Store) ProposeEncoded(ctx context.Context, data []byte) error {
	if len(data) > EntryBytesMax {
		return fmt.Errorf("%w: metadata entry of %d bytes exceeds %d", kerr.InvalidRequest, len(data), EntryBytesMax)
	}
	if _, err := decodeEntry(data); err != nil {
		return fmt.Errorf("%w: %w", kerr.InvalidRequest, err)
	}
	return s.log.Propose(ctx, data)
}
