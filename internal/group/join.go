package group

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinRequest is a JoinGroup with the connection's client id and host.
type joinRequest struct {
	req      *kmsg.JoinGroupRequest
	clientID string
	host     string
	w        *joinWait
}

// join runs one JoinGroup on the shard. It answers w now, or parks it on
// the member until the rebalance completes.
func (s *shard) join(j joinRequest) {
	req := j.req
	g := s.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			j.w.fail(kerr.UnknownMemberID.Code)
			return
		}
		var err error
		if g, err = s.newGroup(req.Group); err != nil {
			j.w.fail(codeOf(err))
			return
		}
	}
	protocols := make([]protocol, 0, len(req.Protocols))
	for _, p := range req.Protocols {
		protocols = append(protocols, protocol{p.Name, p.Metadata})
	}
	if !g.supportsProtocols(req.ProtocolType, protocols, req.MemberID) {
		j.w.fail(kerr.InconsistentGroupProtocol.Code)
		s.forgetIfEmpty(g)
		return
	}
	if g.state == StateDead {
		j.w.fail(kerr.CoordinatorNotAvailable.Code)
		return
	}
	if req.MemberID == "" {
		g.joinUnknown(j, protocols)
	} else {
		g.joinKnown(j, protocols)
	}
	s.forgetIfEmpty(g)
}

// forgetIfEmpty drops a group a failed join created.
func (s *shard) forgetIfEmpty(g *group) {
	if g.isEmpty() && g.generation == 0 && g.s.groups[g.id] == g {
		s.removeGroup(g)
	}
}

// newMember builds a member from a join.
func newMember(id string, j joinRequest, protocols []protocol) *member {
	rebalance := time.Duration(j.req.RebalanceTimeoutMillis) * time.Millisecond
	if j.req.Version == 0 {
		rebalance = time.Duration(j.req.SessionTimeoutMillis) * time.Millisecond
	}
	return &member{
		id: id, instanceID: j.req.InstanceID, clientID: j.clientID, host: j.host,
		sessionTimeout:   time.Duration(j.req.SessionTimeoutMillis) * time.Millisecond,
		rebalanceTimeout: rebalance, protocolType: j.req.ProtocolType, protocols: protocols,
	}
}

// joinUnknown handles a join without a member id.
func (g *group) joinUnknown(j joinRequest, protocols []protocol) {
	if j.req.InstanceID != nil {
		if oldID, ok := g.static[*j.req.InstanceID]; ok {
			g.replaceStatic(j, protocols, g.members[oldID])
			return
		}
	}
	if g.size() >= g.sizeMax() {
		j.w.fail(kerr.GroupMaxSizeReached.Code)
		return
	}
	prefix := j.clientID
	if j.req.InstanceID != nil {
		prefix = *j.req.InstanceID
	}
	m := newMember(newMemberID(prefix), j, protocols)
	if j.req.InstanceID == nil && j.req.Version >= 4 {
		// KIP-394: hand out the id first, so a client that times out
		// and retries rejoins as the same member instead of leaking one.
		g.pending[m.id] = m
		g.scheduleExpiry(m)
		r := kmsg.NewPtrJoinGroupResponse()
		r.Version, r.ErrorCode, r.Generation, r.MemberID = j.req.Version, kerr.MemberIDRequired.Code, -1, m.id
		j.w.reply(r)
		return
	}
	g.addAndRebalance(m, j.w)
}

// joinKnown handles a join with a member id.
func (g *group) joinKnown(j joinRequest, protocols []protocol) {
	id := j.req.MemberID
	if pm, ok := g.pending[id]; ok {
		pm.stopTimer()
		delete(g.pending, id)
		m := newMember(id, j, protocols)
		g.addAndRebalance(m, j.w)
		return
	}
	m, ok := g.members[id]
	if !ok {
		j.w.fail(kerr.UnknownMemberID.Code)
		return
	}
	if j.req.InstanceID != nil && g.static[*j.req.InstanceID] != id {
		j.w.fail(kerr.FencedInstanceID.Code)
		return
	}
	changed := !sameProtocols(m.protocols, protocols)
	m.protocols, m.clientID, m.host = protocols, j.clientID, j.host
	m.sessionTimeout = time.Duration(j.req.SessionTimeoutMillis) * time.Millisecond
	if j.req.Version > 0 {
		m.rebalanceTimeout = time.Duration(j.req.RebalanceTimeoutMillis) * time.Millisecond
	}
	switch g.state {
	case StatePreparingRebalance:
		g.park(m, j.w)
		g.tryCompleteJoin()
	case StateCompletingRebalance, StateStable:
		if !changed && (g.state == StateCompletingRebalance || id != g.leader) {
			// A retried join: answer with the current generation.
			j.w.reply(g.joinResponse(m, j.req.Version))
			g.scheduleExpiry(m)
			return
		}
		g.park(m, j.w)
		g.prepareRebalance()
	default:
		j.w.fail(kerr.UnknownMemberID.Code)
	}
}

// replaceStatic gives a static member that rejoined without its member id
// a new id, fencing the old one (KIP-345), as Kafka's
// updateStaticMemberAndRebalance does. In a Stable group whose selected
// protocol the member's protocols do not change, there is no rebalance:
// the group's metadata is stored with the new member id and the join is
// answered once that is durable. A leader that rejoins this way is told,
// from JoinGroup v9, that it leads but must skip the assignment (KIP-814);
// before v9 it is given the old leader id, so it does not think it leads.
func (g *group) replaceStatic(j joinRequest, protocols []protocol, old *member) {
	oldLeader := g.leader
	m := newMember(newMemberID(*j.req.InstanceID), j, protocols)
	m.assignment = old.assignment
	g.swapMember(old, m)
	g.park(m, j.w)
	switch g.state {
	case StatePreparingRebalance:
		g.tryCompleteJoin()
	case StateCompletingRebalance:
		// The leader may already be assigning to the old member id.
		g.prepareRebalance()
	case StateStable:
		if g.selectProtocol() != g.protocol {
			g.prepareRebalance()
			return
		}
		generation := g.generation
		g.s.storeGroup(g, nil, func(code int16) {
			g.completeStaticJoin(j, old, m, oldLeader, generation, code)
		})
	}
}

// completeStaticJoin answers a static member's rejoin once the group's
// metadata with its new member id is stored. On failure the old member id
// is put back (if nothing else changed meanwhile) and the join fails.
func (g *group) completeStaticJoin(j joinRequest, old, m *member, oldLeader string, generation int32, code int16) {
	if g.s.groups[g.id] != g || m.join != j.w {
		return // answered already: superseded, fenced or folded into a rebalance
	}
	m.join = nil
	if code != 0 {
		g.s.c.logger.Warn("cannot store group metadata for a rejoining static member", "group", g.id, "code", code)
		if g.state == StateStable && g.generation == generation && g.members[m.id] == m {
			g.swapMember(m, old)
			g.scheduleExpiry(old)
		}
		j.w.fail(code)
		return
	}
	r := g.joinResponse(m, j.req.Version)
	switch {
	case j.req.Version >= 9:
		r.SkipAssignment = m.id == g.leader
	case m.id == g.leader:
		r.LeaderID, r.Members = oldLeader, nil
	}
	j.w.reply(r)
	g.scheduleExpiry(m)
}

// swapMember puts next in place of prev: same instance id, leadership and
// pending SyncGroup, while requests still parked on prev are fenced.
func (g *group) swapMember(prev, next *member) {
	prev.stopTimer()
	if prev.join != nil {
		prev.join.fail(kerr.FencedInstanceID.Code)
		prev.join = nil
	}
	if prev.sync != nil {
		prev.sync.fail(kerr.FencedInstanceID.Code)
		prev.sync = nil
	}
	delete(g.members, prev.id)
	g.members[next.id] = next
	g.static[*next.instanceID] = next.id
	if g.leader == prev.id {
		g.leader = next.id
	}
	// The new id owes the SyncGroup the old one owed; Kafka leaves the old
	// id in its pending set, which would later expire a member that did
	// sync under its new id.
	if g.pendingSync[prev.id] {
		delete(g.pendingSync, prev.id)
		g.pendingSync[next.id] = true
	}
}

func sameProtocols(a, b []protocol) bool {
	return slices.EqualFunc(a, b, func(x, y protocol) bool {
		return x.name == y.name && string(x.metadata) == string(y.metadata)
	})
}

// addAndRebalance adds a new member waiting in a join and rebalances.
func (g *group) addAndRebalance(m *member, w *joinWait) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.newMember = true
	g.park(m, w)
	if g.state == StatePreparingRebalance {
		g.tryCompleteJoin()
		return
	}
	g.prepareRebalance()
}

// park keeps a member's join waiting for the rebalance to complete.
func (g *group) park(m *member, w *joinWait) {
	if m.join != nil && m.join != w {
		m.join.fail(kerr.RebalanceInProgress.Code) // superseded by a newer join
	}
	m.join = w
	m.stopTimer() // members waiting in a join are kept alive
}

// prepareRebalance moves the group to PreparingRebalance and starts the
// join timer: the initial delay for an empty group, else the longest
// rebalance timeout of its members.
func (g *group) prepareRebalance() {
	if g.state == StateCompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if m.sync != nil {
				m.sync.fail(kerr.RebalanceInProgress.Code)
				m.sync = nil
				g.scheduleExpiry(m)
			}
		}
	}
	g.clearPendingSync()
	g.stopRebalanceTimer()
	delay := g.s.c.cfg.InitialRebalanceDelay
	if g.state == StateEmpty && delay > 0 {
		g.initialDelay = true
		g.initialDelayLeft = max(g.maxRebalanceTimeout()-delay, 0)
		g.newMember = false
		g.setState(StatePreparingRebalance)
		g.startRebalanceTimer(delay)
		return
	}
	g.initialDelay = false
	g.setState(StatePreparingRebalance)
	g.startRebalanceTimer(g.maxRebalanceTimeout())
	g.tryCompleteJoin()
}

func (g *group) startRebalanceTimer(d time.Duration) {
	g.stopRebalanceTimer()
	g.rebalanceTimer, g.rebalanceToken = g.s.after(d, func(token uint64) {
		if g.rebalanceToken != token || g.state != StatePreparingRebalance || g.s.groups[g.id] != g {
			return
		}
		g.rebalanceTimer = nil
		if g.initialDelay && g.newMember && g.initialDelayLeft > 0 {
			// Kafka's InitialDelayedJoin: each new member extends the
			// wait, within the rebalance timeout.
			step := min(g.s.c.cfg.InitialRebalanceDelay, g.initialDelayLeft)
			g.initialDelayLeft -= step
			g.newMember = false
			g.startRebalanceTimer(step)
			return
		}
		g.completeJoin()
	})
}

// tryCompleteJoin completes the join early when every member has joined
// (never during the initial delay, whose point is to wait).
func (g *group) tryCompleteJoin() {
	if g.state != StatePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends PreparingRebalance: dynamic members that did not
// rejoin are removed, a new generation starts and every waiting join is
// answered, the leader's with the members' metadata.
func (g *group) completeJoin() {
	g.stopRebalanceTimer()
	g.initialDelay = false
	for _, m := range g.members {
		if m.join == nil && m.instanceID == nil {
			g.removeMember(m, false)
		}
	}
	if len(g.members) == 0 {
		g.generation++
		g.protocol, g.leader = "", ""
		g.setState(StateEmpty)
		// Nobody waits for this record; if it is lost, the previous
		// generation comes back at restart and its members time out
		// (Kafka only logs this failure too).
		g.s.storeGroup(g, nil, func(code int16) {
			if code != 0 {
				g.s.c.logger.Warn("cannot store empty group metadata", "group", g.id, "code", code)
			}
		})
		return
	}
	if l, ok := g.members[g.leader]; !ok || l.join == nil {
		g.leader = ""
		for _, m := range g.sortedMembers() {
			if m.join != nil {
				g.leader = m.id
				break
			}
		}
		if g.leader == "" {
			// Only static members that have not rejoined: wait for
			// them to rejoin or for their sessions to expire.
			for _, m := range g.members {
				g.scheduleExpiry(m)
			}
			g.startRebalanceTimer(g.maxRebalanceTimeout())
			return
		}
	}
	g.generation++
	g.protocol = g.selectProtocol()
	g.setState(StateCompletingRebalance)
	for _, m := range g.members {
		m.assignment = nil
		if m.join != nil {
			m.join.reply(g.joinResponse(m, m.join.version))
			m.join = nil
		}
		g.scheduleExpiry(m)
	}
	g.startPendingSync()
}

// joinResponse is the answer for m in the current generation.
func (g *group) joinResponse(m *member, version int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.Generation = g.generation
	pt, p := g.protocolType, g.protocol
	r.ProtocolType, r.Protocol = &pt, &p
	r.LeaderID, r.MemberID = g.leader, m.id
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = o.id, o.instanceID, o.metadataFor(g.protocol)
			r.Members = append(r.Members, rm)
		}
	}
	return r
}

// removeMember drops a member; when rebalance is set the group then
// rebalances as Kafka does after a leave or an expiry.
func (g *group) removeMember(m *member, rebalance bool) {
	m.stopTimer()
	if m.join != nil {
		m.join.fail(kerr.UnknownMemberID.Code)
		m.join = nil
	}
	if m.sync != nil {
		m.sync.fail(kerr.UnknownMemberID.Code)
		m.sync = nil
	}
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
	if !rebalance {
		return
	}
	switch g.state {
	case StateStable, StateCompletingRebalance:
		g.prepareRebalance()
	case StatePreparingRebalance:
		g.tryCompleteJoin()
	}
}

// scheduleExpiry (re)starts a member's session timer. A heartbeat, sync
// or commit from the member calls it again.
func (g *group) scheduleExpiry(m *member) {
	m.stopTimer()
	m.timer, m.timerToken = g.s.after(m.sessionTimeout, func(token uint64) {
		if m.timerToken != token || g.s.groups[g.id] != g {
			return
		}
		m.timer = nil
		if pm, ok := g.pending[m.id]; ok && pm == m {
			delete(g.pending, m.id)
			g.tryCompleteJoin()
			return
		}
		if g.members[m.id] != m || m.join != nil || m.sync != nil {
			return // waiting members are kept alive
		}
		g.s.c.logger.Info("group member session expired", "group", g.id, "member", m.id)
		g.removeMember(m, true)
	})
}
