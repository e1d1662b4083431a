package group

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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

// CommitOffsets stores a request's offsets and answers once they are on
// disk. They become visible to OffsetFetch at the same moment, not
// before; if their fsync fails they are dropped and the client gets the
// error (Kafka's prepareOffsetCommit, then onOffsetCommitAppend or
// failPendingOffsetWrite in the append callback). The returned code
// applies to every partition of the request.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) int16 {
	if c == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	if code := c.checkGroup(req.Group, true); code != 0 {
		return code
	}
	s := c.shardFor(req.Group)
	answer := make(chan int16, 1) // never blocks the shard: one answer per request
	if !s.do(func() { s.commit(req, func(code int16) { answer <- code }) }) {
		return codeOf(errClosed)
	}
	select {
	case code := <-answer:
		return code
	case <-ctx.Done(): // the connection is gone; the commit still completes
		return codeOf(errClosed)
	case <-c.done:
		return codeOf(errClosed)
	}
}

// commit runs one OffsetCommit on the shard: it checks the request,
// appends the offsets as pending, and calls reply once they are durable
// and visible, or with the error that stopped them.
func (s *shard) commit(req CommitRequest, reply func(code int16)) {
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			reply(kerr.IllegalGeneration.Code)
			return
		}
		var err error
		if g, err = s.newGroup(req.Group); err != nil {
			reply(codeOf(err))
			return
		}
	}
	if code := g.checkCommit(req); code != 0 {
		reply(code)
		return
	}
	if len(req.Commits) == 0 {
		s.forgetIfEmpty(g)
		reply(0)
		return
	}
	now := s.c.clock.Now().UnixMilli()
	staged := make(map[topicPartition]offset, len(req.Commits))
	records := make([]keyValue, 0, len(req.Commits))
	for _, cm := range req.Commits {
		tp := topicPartition{cm.Topic, cm.Partition}
		o := offset{offset: cm.Offset, leaderEpoch: cm.LeaderEpoch, metadata: cm.Metadata, commitTimestamp: now}
		staged[tp] = o
		records = append(records, keyValue{offsetKey(g.id, tp), offsetValue(o)})
	}
	w := s.append(g, records, true)
	if w.code != 0 {
		s.forgetIfEmpty(g)
		reply(w.code)
		return
	}
	for tp, o := range staged {
		o.appendedAt = w.next
		staged[tp] = o
		g.pendingOffsets[tp] = o
	}
	s.whenDurable(w, func(code int16) {
		if s.groups[g.id] == g { // a deleted or unloaded group keeps nothing
			g.completeCommit(staged, w.next, code == 0)
			s.forgetIfEmpty(g)
		}
		reply(code)
	})
}

// completeCommit ends a pending commit appended before next: on success
// its offsets become the committed ones (unless a later append of the same
// partition completed first), and either way the pending entries that are
// still this commit's are dropped. A partition whose pending entry is gone
// was deleted meanwhile (OffsetDelete) and stays deleted.
func (g *group) completeCommit(staged map[topicPartition]offset, next int64, ok bool) {
	for tp, o := range staged {
		pending, isPending := g.pendingOffsets[tp]
		if !isPending {
			continue
		}
		if cur, has := g.offsets[tp]; ok && (!has || cur.appendedAt < o.appendedAt) {
			g.offsets[tp] = o
		}
		if pending.appendedAt == next {
			delete(g.pendingOffsets, tp)
		}
	}
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
	if code := c.checkGroup(groupID, true); code != 0 {
		return nil, code
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
