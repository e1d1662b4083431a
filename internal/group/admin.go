package group

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroup answers one group of a DescribeGroups: an unknown group is
// Dead with no error, as Kafka answers before DescribeGroups v6. Member
// metadata and assignments are filled only when the group is Stable.
func (c *Coordinator) DescribeGroup(ctx context.Context, groupID string) kmsg.DescribeGroupsResponseGroup {
	out := kmsg.NewDescribeGroupsResponseGroup()
	out.Group = groupID
	if c == nil {
		out.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return out
	}
	if code := c.checkGroup(groupID, true); code != 0 {
		out.ErrorCode = code
		return out
	}
	s := c.shardFor(groupID)
	d, err := call(ctx, s, func() kmsg.DescribeGroupsResponseGroup {
		g := s.groups[groupID]
		if g == nil {
			out.State = StateDead.String()
			out.Members = []kmsg.DescribeGroupsResponseGroupMember{}
			return out
		}
		return g.describe(out)
	})
	if err != nil {
		out.ErrorCode = codeOf(errClosed)
		return out
	}
	return d
}

func (g *group) describe(out kmsg.DescribeGroupsResponseGroup) kmsg.DescribeGroupsResponseGroup {
	out.State, out.ProtocolType = g.state.String(), g.protocolType
	stable := g.state == StateStable
	if stable {
		out.Protocol = g.protocol
	}
	out.Members = []kmsg.DescribeGroupsResponseGroupMember{}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.host
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			if md := m.metadataFor(g.protocol); md != nil {
				dm.ProtocolMetadata = md
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		out.Members = append(out.Members, dm)
	}
	return out
}

// ListGroups lists the groups in the given states (all when states is
// empty; Kafka matches state names case-insensitively).
func (c *Coordinator) ListGroups(ctx context.Context, states []string) ([]kmsg.ListGroupsResponseGroup, int16) {
	if c == nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, s := range c.shards {
		part, err := call(ctx, s, func() []kmsg.ListGroupsResponseGroup {
			var gs []kmsg.ListGroupsResponseGroup
			for _, g := range s.groups {
				if len(states) > 0 && !slices.ContainsFunc(states, func(st string) bool {
					return strings.EqualFold(st, g.state.String())
				}) {
					continue
				}
				lg := kmsg.NewListGroupsResponseGroup()
				lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, g.protocolType, g.state.String(), "classic"
				gs = append(gs, lg)
			}
			return gs
		})
		if err != nil {
			return nil, codeOf(errClosed)
		}
		out = append(out, part...)
	}
	slices.SortFunc(out, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	return out, 0
}

// DeleteGroup deletes an empty group with its offsets: NON_EMPTY_GROUP
// while it has members, GROUP_ID_NOT_FOUND when it does not exist.
func (c *Coordinator) DeleteGroup(ctx context.Context, groupID string) int16 {
	if c == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	if code := c.checkGroup(groupID, true); code != 0 {
		return code
	}
	s := c.shardFor(groupID)
	w, err := call(ctx, s, func() written {
		g := s.groups[groupID]
		switch {
		case g == nil || g.state == StateDead:
			return written{code: kerr.GroupIDNotFound.Code}
		case g.state != StateEmpty || len(g.members) > 0:
			return written{code: kerr.NonEmptyGroup.Code}
		}
		w := s.append(g, g.tombstones(nil), false)
		if w.code == 0 {
			s.removeGroup(g) // pending commits then complete into nothing
		}
		return w
	})
	if err != nil {
		return codeOf(errClosed)
	}
	return c.wait(w)
}

// tombstones deletes the offsets of the given partitions, or of all
// partitions and the group itself when tps is nil. Partitions with a
// pending commit get one too, appended after the commit's record, so a
// replay does not bring back what memory dropped.
func (g *group) tombstones(tps []topicPartition) []keyValue {
	var records []keyValue
	all := tps == nil
	if all {
		for tp := range g.offsets {
			tps = append(tps, tp)
		}
		for tp := range g.pendingOffsets {
			if _, ok := g.offsets[tp]; !ok {
				tps = append(tps, tp)
			}
		}
	}
	for _, tp := range tps {
		records = append(records, keyValue{key: offsetKey(g.id, tp)})
	}
	if all {
		records = append(records, keyValue{key: groupKey(g.id)})
	}
	return records
}

// DeleteOffsets runs an OffsetDelete: partitions of topics the group's
// members subscribe to are refused with GROUP_SUBSCRIBED_TO_TOPIC.
func (c *Coordinator) DeleteOffsets(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if c == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	if code := c.checkGroup(req.Group, true); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	s := c.shardFor(req.Group)
	w, err := call(ctx, s, func() written { return s.deleteOffsets(req, resp) })
	if err != nil {
		resp.ErrorCode = codeOf(errClosed)
		return resp
	}
	if code := c.wait(w); code != 0 && resp.ErrorCode == 0 {
		resp.ErrorCode = code
	}
	return resp
}

func (s *shard) deleteOffsets(req *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse) written {
	g := s.groups[req.Group]
	if g == nil || g.state == StateDead {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return written{}
	}
	if g.state != StateEmpty && g.protocolType != "consumer" {
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return written{}
	}
	subscribed := g.subscribedTopics()
	var tps []topicPartition
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			tp := topicPartition{rt.Topic, rp.Partition}
			switch {
			case g.state != StateEmpty && (subscribed == nil || subscribed[rt.Topic]):
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				_, committed := g.offsets[tp]
				_, pending := g.pendingOffsets[tp]
				if committed || pending {
					tps = append(tps, tp)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(tps) == 0 {
		return written{}
	}
	w := s.append(g, g.tombstones(tps), false)
	if w.code != 0 {
		resp.ErrorCode = w.code
		return written{}
	}
	for _, tp := range tps {
		delete(g.offsets, tp)
		delete(g.pendingOffsets, tp) // Kafka's removeOffsets drops pending commits too
	}
	return w
}

// subscribedTopics parses the members' consumer protocol metadata; nil
// when the group does not use the consumer protocol or some member's
// metadata cannot be read (then every topic counts as subscribed, the
// safe answer, as Kafka's computeSubscribedTopics).
func (g *group) subscribedTopics() map[string]bool {
	if g.protocolType != "consumer" {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics
}

// scheduleRetention runs the offsets retention sweep every
// retentionCheckInterval.
func (c *Coordinator) scheduleRetention() {
	c.clock.AfterFunc(retentionCheckInterval, func() {
		for _, s := range c.shards {
			if !s.do(s.expireOffsets) {
				return
			}
		}
		c.scheduleRetention()
	})
}

// expireOffsets is Kafka's offsets retention (KIP-211, as in
// GroupMetadata.removeExpiredOffsets): see expiredOffsets for which
// offsets go. An Empty group left with no offsets is deleted.
func (s *shard) expireOffsets() {
	if s.c.cfg.OffsetsRetention <= 0 {
		return
	}
	now := s.c.clock.Now()
	for _, g := range s.groups {
		expired := g.expiredOffsets(now, s.c.cfg.OffsetsRetention)
		if g.state == StateEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
			len(g.pendingOffsets) == 0 && len(expired) == len(g.offsets) {
			if w := s.append(g, g.tombstones(nil), false); w.code == 0 {
				s.c.logger.Info("group expired", "group", g.id, "offsets", len(expired))
				s.removeGroup(g)
			}
			continue
		}
		if len(expired) == 0 {
			continue
		}
		if w := s.append(g, g.tombstones(expired), false); w.code == 0 {
			s.c.logger.Info("group offsets expired", "group", g.id, "offsets", len(expired))
			for _, tp := range expired {
				delete(g.offsets, tp)
			}
		}
	}
}

// expiredOffsets lists the offsets older than retention, by Kafka's rule:
//   - a group that never used group management (no protocol type):
//     counted from each offset's commit;
//   - an Empty group: counted from when it became Empty, for all offsets;
//   - a Stable consumer group: offsets of topics no member subscribes to,
//     counted from their commit (they would otherwise live forever, since
//     nobody commits them again);
//   - any other group: none.
//
// Partitions with a commit in flight never expire.
func (g *group) expiredOffsets(now time.Time, retention time.Duration) []topicPartition {
	var subscribed map[string]bool
	fromCommit := true
	switch {
	case g.protocolType == "":
	case g.state == StateEmpty:
		fromCommit = false
	case g.state == StateStable:
		if subscribed = g.subscribedTopics(); subscribed == nil {
			return nil // not the consumer protocol, or unreadable: keep all
		}
	default:
		return nil
	}
	var expired []topicPartition
	for tp, o := range g.offsets {
		if _, pending := g.pendingOffsets[tp]; pending || subscribed[tp.topic] {
			continue
		}
		base := g.stateSince
		if fromCommit {
			base = msTime(o.commitTimestamp)
		}
		if now.Sub(base) >= retention {
			expired = append(expired, tp)
		}
	}
	return expired
}

// Unload forgets every group, as Kafka's coordinator does when it resigns
// the partitions of a deleted offsets topic (BrokerMetadataPublisher's
// updateCoordinator, then GroupCoordinator.onGroupUnloaded): requests
// parked in a join or sync get NOT_COORDINATOR, and clients rejoin and
// find no committed offsets.
func (c *Coordinator) Unload(ctx context.Context) {
	if c == nil {
		return
	}
	for _, s := range c.shards {
		call(ctx, s, func() struct{} {
			for _, g := range s.groups {
				g.unload()
				s.removeGroup(g)
			}
			return struct{}{}
		})
	}
	c.logger.Warn("all groups unloaded: the offsets topic was deleted")
}

// unload answers the group's parked requests before it is forgotten.
func (g *group) unload() {
	for _, m := range g.members {
		if m.join != nil {
			m.join.fail(kerr.NotCoordinator.Code)
			m.join = nil
		}
		if m.sync != nil {
			m.sync.fail(kerr.NotCoordinator.Code)
			m.sync = nil
		}
	}
}
