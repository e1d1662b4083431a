package group

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// loadedGroup is what replay found for one group: the latest metadata
// and offsets, with tombstones applied.
type loadedGroup struct {
	meta    *kmsg.GroupMetadataValue
	offsets map[topicPartition]offset
}

// replayPartition reads one partition of the offsets topic and returns
// its groups: the latest record per key wins, tombstones delete.
func (c *Coordinator) replayPartition(partition int32) (map[string]*loadedGroup, error) {
	state := map[string]*loadedGroup{}
	skipped := 0
	err := c.storage.Replay(partition, func(key, value []byte) {
		k, ok, err := decodeKey(key)
		if err != nil || !ok {
			skipped++
			return
		}
		l := state[k.group]
		if l == nil {
			l = &loadedGroup{offsets: map[topicPartition]offset{}}
			state[k.group] = l
		}
		switch {
		case k.isOffset && value == nil:
			delete(l.offsets, k.tp)
		case k.isOffset:
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(value); err != nil {
				skipped++
				return
			}
			if v.Version < 3 {
				v.LeaderEpoch = -1
			}
			l.offsets[k.tp] = offset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, commitTimestamp: v.CommitTimestamp}
		case value == nil:
			l.meta = nil
		default:
			v := new(kmsg.GroupMetadataValue)
			if err := v.ReadFrom(value); err != nil {
				skipped++
				return
			}
			l.meta = v
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s-%d: %w", OffsetsTopic, partition, err)
	}
	if skipped > 0 {
		c.logger.Warn("skipped unreadable records of the offsets topic", "partition", partition, "records", skipped)
	}
	return state, nil
}

// install adds replayed groups to their shard and returns them. It runs
// before the shard goroutines start, or on the shard's goroutine.
func (c *Coordinator) install(state map[string]*loadedGroup) []*group {
	var out []*group
	for id, l := range state {
		if l.meta == nil && len(l.offsets) == 0 {
			continue
		}
		s := c.shardFor(id)
		g, err := s.newGroup(id)
		if err != nil {
			c.logger.Error("dropping loaded group", "group", id, "err", err)
			continue
		}
		g.offsets = l.offsets
		if l.meta != nil {
			g.restore(l.meta)
		}
		out = append(out, g)
	}
	return out
}

// restore applies a loaded GroupMetadataValue: a group with members comes
// back Stable in its generation, so members that reconnect carry on
// without a rebalance; members that do not are expired by their session
// timeouts.
func (g *group) restore(v *kmsg.GroupMetadataValue) {
	g.protocolType, g.generation = v.ProtocolType, v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	if v.CurrentStateTimestamp > 0 {
		g.stateSince = msTime(v.CurrentStateTimestamp)
	}
	for _, vm := range v.Members {
		m := &member{
			id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, host: vm.ClientHost,
			sessionTimeout:   msDuration(vm.SessionTimeoutMillis),
			rebalanceTimeout: msDuration(vm.RebalanceTimeoutMillis),
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{g.protocol, vm.Subscription}},
			assignment:       vm.Assignment,
		}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 && g.protocol != "" {
		g.state = StateStable
	} else {
		g.members, g.static, g.leader = map[string]*member{}, map[string]string{}, ""
	}
}

// afterLoad starts the session timers of loaded members; it runs on the
// shard goroutine.
func (s *shard) afterLoad() {
	for _, g := range s.groups {
		for _, m := range g.members {
			g.scheduleExpiry(m)
		}
	}
}
