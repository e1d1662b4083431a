package group

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// written says where a change was appended, so the caller can wait for
// its fsync off the shard goroutine.
type written struct {
	code      int16
	partition int32
	next      int64 // 0 when nothing was written
}

// wait waits for a write's fsync and returns the code for the client.
func (c *Coordinator) wait(w written) int16 {
	if w.code != 0 || w.next == 0 {
		return w.code
	}
	if err := c.storage.WaitDurable(w.partition, w.next); err != nil {
		c.logger.Error("offsets topic fsync failed", "partition", w.partition, "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}

// append writes records for g's partition.
func (s *shard) append(g *group, records []keyValue) written {
	p := PartitionFor(g.id, s.c.partitions)
	next, err := s.c.storage.Append(p, s.c.partitions, buildBatch(records, s.c.clock.Now().UnixMilli()))
	if err != nil {
		s.c.logger.Error("cannot append to the offsets topic", "group", g.id, "err", err)
		return written{code: kerr.CoordinatorNotAvailable.Code}
	}
	return written{partition: p, next: next}
}

// Commit is one partition's offset in an OffsetCommit.
type Commit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// CommitRequest is an OffsetCommit whose partitions the handler checked.
type CommitRequest struct {
	Group      string
	Generation int32 // -1 for a commit outside group management
	MemberID   string
	InstanceID *string
	Commits    []Commit
}

// CommitOffsets stores a request's offsets, answered once they are on
// disk. The returned code applies to every partition of the request.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) int16 {
	if c == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	if err := validGroupID(req.Group, true); err != nil {
		return kerr.InvalidGroupID.Code
	}
	s := c.shardFor(req.Group)
	w, err := call(ctx, s, func() written { return s.commit(req) })
	if err != nil {
		return codeOf(errClosed)
	}
	return c.wait(w)
}

func (s *shard) commit(req CommitRequest) written {
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			return written{code: kerr.IllegalGeneration.Code}
		}
		var err error
		if g, err = s.newGroup(req.Group); err != nil {
			return written{code: codeOf(err)}
		}
	}
	if code := g.checkCommit(req); code != 0 {
		return written{code: code}
	}
	if len(req.Commits) == 0 {
		s.forgetIfEmpty(g)
		return written{}
	}
	now := s.c.clock.Now().UnixMilli()
	records := make([]keyValue, 0, len(req.Commits))
	for _, cm := range req.Commits {
		tp := topicPartition{cm.Topic, cm.Partition}
		o := offset{cm.Offset, cm.LeaderEpoch, cm.Metadata, now}
		records = append(records, keyValue{offsetKey(g.id, tp), offsetValue(o)})
	}
	w := s.append(g, records)
	if w.code != 0 {
		s.forgetIfEmpty(g)
		return w
	}
	for _, cm := range req.Commits {
		g.offsets[topicPartition{cm.Topic, cm.Partition}] = offset{cm.Offset, cm.LeaderEpoch, cm.Metadata, now}
	}
	return w
}

// checkCommit is Kafka's order of checks for a commit to an existing group.
func (g *group) checkCommit(req CommitRequest) int16 {
	switch {
	case g.state == StateDead:
		return kerr.CoordinatorNotAvailable.Code
	case req.InstanceID != nil && g.static[*req.InstanceID] != "" && g.static[*req.InstanceID] != req.MemberID:
		return kerr.FencedInstanceID.Code
	case req.Generation < 0 && g.state == StateEmpty:
		return 0 // a commit outside group management
	case g.state == StateCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	m := g.members[req.MemberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	if m.join == nil && m.sync == nil {
		g.scheduleExpiry(m)
	}
	return 0
}

// PartitionOffset is one partition's answer to an OffsetFetch.
type PartitionOffset struct {
	Partition   int32
	Offset      int64 // -1 without a commit
	LeaderEpoch int32
	Metadata    string
}

// TopicOffsets is one topic's answer to an OffsetFetch.
type TopicOffsets struct {
	Topic      string
	Partitions []PartitionOffset
}

// FetchOffsets returns a group's committed offsets for the requested
// partitions (-1 for those without a commit, as Kafka answers), or every
// committed offset when topics is nil.
func (c *Coordinator) FetchOffsets(ctx context.Context, groupID string, topics []kmsg.OffsetFetchRequestTopic) ([]TopicOffsets, int16) {
	if c == nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if err := validGroupID(groupID, true); err != nil {
		return nil, kerr.InvalidGroupID.Code
	}
	s := c.shardFor(groupID)
	out, err := call(ctx, s, func() []TopicOffsets { return s.fetch(groupID, topics) })
	if err != nil {
		return nil, codeOf(errClosed)
	}
	return out, 0
}

func (s *shard) fetch(groupID string, topics []kmsg.OffsetFetchRequestTopic) []TopicOffsets {
	g := s.groups[groupID]
	var offsets map[topicPartition]offset
	if g != nil {
		offsets = g.offsets
	}
	if topics == nil {
		return allOffsets(offsets)
	}
	out := make([]TopicOffsets, 0, len(topics))
	for _, t := range topics {
		to := TopicOffsets{Topic: t.Topic}
		for _, p := range t.Partitions {
			po := PartitionOffset{Partition: p, Offset: -1, LeaderEpoch: -1}
			if o, ok := offsets[topicPartition{t.Topic, p}]; ok {
				po.Offset, po.LeaderEpoch, po.Metadata = o.offset, o.leaderEpoch, o.metadata
			}
			to.Partitions = append(to.Partitions, po)
		}
		out = append(out, to)
	}
	return out
}

// allOffsets lists every committed offset by topic and partition.
func allOffsets(offsets map[topicPartition]offset) []TopicOffsets {
	tps := make([]topicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	var out []TopicOffsets
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].Topic != tp.topic {
			out = append(out, TopicOffsets{Topic: tp.topic})
		}
		o := offsets[tp]
		last := &out[len(out)-1]
		last.Partitions = append(last.Partitions, PartitionOffset{tp.partition, o.offset, o.leaderEpoch, o.metadata})
	}
	return out
}

// ValidateCommit checks a partition's commit before it reaches the
// coordinator: metadata within offset.metadata.max.bytes.
func ValidateCommit(metadata *string) error {
	if metadata != nil && len(*metadata) > metadataBytesMax {
		return fmt.Errorf("%w: %d bytes of metadata, more than %d", kerr.OffsetMetadataTooLarge, len(*metadata), metadataBytesMax)
	}
	return nil
}
