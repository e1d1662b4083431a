package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkMember is Kafka's common validation of SyncGroup, Heartbeat and
// member commits: a known group and member, an unfenced instance id and
// the current generation.
func (s *shard) checkMember(groupID, memberID string, instanceID *string, generation int32) (*group, *member, int16) {
	g := s.groups[groupID]
	if g == nil {
		return nil, nil, kerr.UnknownMemberID.Code
	}
	if g.state == StateDead {
		return g, nil, kerr.CoordinatorNotAvailable.Code
	}
	if instanceID != nil {
		if id, ok := g.static[*instanceID]; ok && id != memberID {
			return g, nil, kerr.FencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return g, nil, kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return g, m, kerr.IllegalGeneration.Code
	}
	return g, m, 0
}

// sync runs one SyncGroup on the shard, answering w now or when the
// leader's assignment arrives.
func (s *shard) sync(req *kmsg.SyncGroupRequest, w *syncWait) {
	g, m, code := s.checkMember(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		w.fail(code)
		return
	}
	if req.ProtocolType != nil && *req.ProtocolType != g.protocolType ||
		req.Protocol != nil && *req.Protocol != g.protocol {
		w.fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	switch g.state {
	case StateEmpty:
		w.fail(kerr.UnknownMemberID.Code)
	case StatePreparingRebalance:
		w.fail(kerr.RebalanceInProgress.Code)
	case StateCompletingRebalance:
		if m.sync != nil {
			m.sync.fail(kerr.RebalanceInProgress.Code) // superseded by a retry
		}
		m.sync = w
		g.syncReceived(m.id)
		if m.id == g.leader {
			s.storeAssignment(g, req.GroupAssignment)
		}
	case StateStable:
		g.syncReceived(m.id)
		w.reply(g.syncResponse(m, w.version))
		g.scheduleExpiry(m)
	}
}

// storeAssignment persists the leader's assignment and, once it is on
// disk, makes the group Stable and answers every waiting SyncGroup.
// Until then the group stays CompletingRebalance: followers' SyncGroups
// wait, commits get REBALANCE_IN_PROGRESS. If the write fails, every
// waiting member gets the error and the group rebalances; if the group
// moved on meanwhile, the write's outcome is ignored. This is Kafka's
// doSyncGroup with its storeGroup callback.
func (s *shard) storeAssignment(g *group, assignments []kmsg.SyncGroupRequestGroupAssignment) {
	assigned := make(map[string][]byte, len(g.members))
	for _, a := range assignments {
		if _, ok := g.members[a.MemberID]; ok {
			assigned[a.MemberID] = a.MemberAssignment
		}
	}
	for id := range g.members {
		if assigned[id] == nil {
			assigned[id] = []byte{} // Kafka fills missing members with an empty assignment
		}
	}
	generation := g.generation
	s.storeGroup(g, assigned, func(code int16) {
		if s.groups[g.id] != g || g.state != StateCompletingRebalance || g.generation != generation {
			return
		}
		if code != 0 {
			s.c.logger.Warn("cannot store group assignment; rebalancing", "group", g.id, "generation", generation, "code", code)
			g.propagateAssignment(nil, code)
			g.prepareRebalance()
			return
		}
		g.setState(StateStable)
		g.propagateAssignment(assigned, 0)
	})
}

// propagateAssignment sets every member's assignment (nil after an
// error) and answers their waiting SyncGroups with it or with code.
func (g *group) propagateAssignment(assigned map[string][]byte, code int16) {
	for _, o := range g.members {
		o.assignment = assigned[o.id]
		if o.sync == nil {
			continue
		}
		if code != 0 {
			o.sync.fail(code)
		} else {
			o.sync.reply(g.syncResponse(o, o.sync.version))
		}
		o.sync = nil
		g.scheduleExpiry(o)
	}
}

// startPendingSync records that every member owes a SyncGroup for the new
// generation and starts the timer that removes those that never send it
// (Kafka's schedulePendingSync, with the group's rebalance timeout).
func (g *group) startPendingSync() {
	g.stopSyncTimer()
	clear(g.pendingSync)
	for id := range g.members {
		g.pendingSync[id] = true
	}
	generation := g.generation
	g.syncTimer, g.syncToken = g.s.after(g.maxRebalanceTimeout(), func(token uint64) {
		if g.syncToken != token || g.s.groups[g.id] != g {
			return
		}
		g.syncTimer = nil
		g.expirePendingSync(generation)
	})
}

// syncReceived notes a member's SyncGroup; the timer stops once every
// member has sent one.
func (g *group) syncReceived(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.stopSyncTimer()
	}
}

// clearPendingSync forgets the pending syncs, when a rebalance starts.
func (g *group) clearPendingSync() {
	clear(g.pendingSync)
	g.stopSyncTimer()
}

// expirePendingSync is Kafka's onExpirePendingSync: members that joined
// the generation but never sent SyncGroup within the rebalance timeout
// are removed, and the group rebalances without them. Without it, a
// member that heartbeats but never syncs would hold its partitions'
// assignment hostage forever.
func (g *group) expirePendingSync(generation int32) {
	if g.generation != generation || len(g.pendingSync) == 0 ||
		(g.state != StateCompletingRebalance && g.state != StateStable) {
		return
	}
	var removed []string
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			removed = append(removed, id)
			g.removeMember(m, false)
		}
	}
	clear(g.pendingSync)
	g.s.c.logger.Info("removed group members that did not sync in the rebalance timeout", "group", g.id, "members", removed)
	g.prepareRebalance()
}

func (g *group) syncResponse(m *member, version int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	pt, p := g.protocolType, g.protocol
	r.ProtocolType, r.Protocol = &pt, &p
	r.MemberAssignment = m.assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

// heartbeat runs one Heartbeat on the shard.
func (s *shard) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	g, m, code := s.checkMember(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		return code
	}
	switch g.state {
	case StateEmpty:
		return kerr.UnknownMemberID.Code
	case StatePreparingRebalance:
		if m.join == nil {
			g.scheduleExpiry(m)
		}
		return kerr.RebalanceInProgress.Code
	}
	if m.sync == nil {
		g.scheduleExpiry(m)
	}
	return 0
}

// leave removes the members of one LeaveGroup and returns an error code
// per member, in request order.
func (s *shard) leave(groupID string, leaving []kmsg.LeaveGroupRequestMember) []int16 {
	codes := make([]int16, len(leaving))
	g := s.groups[groupID]
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return codes
	}
	for i, l := range leaving {
		codes[i] = g.leaveOne(l)
	}
	return codes
}

func (g *group) leaveOne(l kmsg.LeaveGroupRequestMember) int16 {
	id := l.MemberID
	if l.InstanceID != nil {
		static, ok := g.static[*l.InstanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case id != "" && id != static:
			return kerr.FencedInstanceID.Code
		}
		id = static
	}
	if pm, ok := g.pending[id]; ok {
		pm.stopTimer()
		delete(g.pending, id)
		g.tryCompleteJoin()
		return 0
	}
	m := g.members[id]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	g.s.c.logger.Debug("group member left", "group", g.id, "member", id)
	g.removeMember(m, true)
	return 0
}
