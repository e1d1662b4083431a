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
		if m.id != g.leader {
			return
		}
		assigned := make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			assigned[a.MemberID] = a.MemberAssignment
		}
		for _, o := range g.members {
			o.assignment = assigned[o.id]
			if o.assignment == nil {
				o.assignment = []byte{}
			}
		}
		g.setState(StateStable)
		s.persistGroup(g)
		for _, o := range g.members {
			if o.sync != nil {
				o.sync.reply(g.syncResponse(o, o.sync.version))
				o.sync = nil
				g.scheduleExpiry(o)
			}
		}
	case StateStable:
		w.reply(g.syncResponse(m, w.version))
		g.scheduleExpiry(m)
	}
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
