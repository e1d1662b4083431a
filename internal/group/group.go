package group

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, with Kafka's names.
type State int8

const (
	StateEmpty State = iota
	StatePreparingRebalance
	StateCompletingRebalance
	StateStable
	StateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string { return stateNames[s] }

// protocol is one assignor a member supports, with its metadata.
type protocol struct {
	name     string
	metadata []byte
}

// joinWait is a JoinGroup request waiting for the rebalance to complete.
type joinWait struct {
	ch      chan *kmsg.JoinGroupResponse
	version int16
}

func (w *joinWait) fail(code int16) {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version, r.ErrorCode, r.Generation = w.version, code, -1
	w.reply(r)
}

// reply answers the request. It never blocks: the channel holds one
// answer, and a request answered already (superseded, or its connection
// gone) drops later ones.
func (w *joinWait) reply(r *kmsg.JoinGroupResponse) {
	select {
	case w.ch <- r:
	default:
	}
}

// syncWait is a SyncGroup request waiting for the leader's assignment.
type syncWait struct {
	ch      chan *kmsg.SyncGroupResponse
	version int16
}

func (w *syncWait) fail(code int16) {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version, r.ErrorCode, r.MemberAssignment = w.version, code, []byte{}
	w.reply(r)
}

// reply answers the request without blocking, like joinWait.reply.
func (w *syncWait) reply(r *kmsg.SyncGroupResponse) {
	select {
	case w.ch <- r:
	default:
	}
}

// member is one member of a group (or, in group.pending, a member id
// handed out by MEMBER_ID_REQUIRED that has not joined yet).
type member struct {
	id               string
	instanceID       *string // static membership (KIP-345)
	clientID, host   string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte

	join *joinWait // set while its JoinGroup waits
	sync *syncWait // set while its SyncGroup waits

	timer      Timer  // session expiry
	timerToken uint64 // token of timer; older fires are ignored
}

func (m *member) stopTimer() {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	m.timerToken = 0
}

// metadataFor returns the member's metadata for a protocol.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func (m *member) supports(name string) bool {
	return slices.ContainsFunc(m.protocols, func(p protocol) bool { return p.name == name })
}

// group is one consumer group. It is owned by its shard's goroutine.
type group struct {
	id           string
	s            *shard
	state        State
	stateSince   time.Time
	protocolType string
	protocol     string // selected at the last completed join
	generation   int32
	leader       string

	members map[string]*member
	static  map[string]string  // group.instance.id → member id
	pending map[string]*member // ids handed out by MEMBER_ID_REQUIRED

	rebalanceTimer Timer
	rebalanceToken uint64
	// initialDelayLeft is what remains of the initial rebalance delay's
	// extension budget (Kafka's InitialDelayedJoin); newMember says a
	// member joined since the delay last fired.
	initialDelay     bool
	initialDelayLeft time.Duration
	newMember        bool

	// pendingSync holds the members that got the current generation's
	// JoinGroup answer and have not sent SyncGroup yet; syncTimer removes
	// them after the rebalance timeout (Kafka's DelayedSync, KAFKA-13479).
	pendingSync map[string]bool
	syncTimer   Timer
	syncToken   uint64

	// offsets are the committed offsets: durable, what OffsetFetch
	// answers. pendingOffsets are commits appended but not yet fsynced
	// (Kafka's pendingOffsetCommits): invisible to OffsetFetch, never
	// expired, and dropped if their fsync fails.
	offsets        map[topicPartition]offset
	pendingOffsets map[topicPartition]offset
}

func (g *group) setState(st State) {
	g.state = st
	g.stateSince = g.s.c.clock.Now()
}

func (g *group) stopRebalanceTimer() {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
		g.rebalanceTimer = nil
	}
	g.rebalanceToken = 0
}

func (g *group) stopSyncTimer() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncToken = 0
}

// sortedMembers returns the members by id, for deterministic answers.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return ms
}

// size counts members and pending members against group.max.size.
func (g *group) size() int { return len(g.members) + len(g.pending) }

func (g *group) sizeMax() int { return min(g.s.c.cfg.GroupMaxSize, membersPerGroupMax) }

// supportsProtocols is Kafka's check that a joining member can share the
// group: same protocol type, and at least one protocol every member has.
func (g *group) supportsProtocols(protocolType string, protocols []protocol, except string) bool {
	if protocolType == "" || len(protocols) == 0 {
		return false
	}
	others := 0
	for _, m := range g.members {
		if m.id != except {
			others++
		}
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		ok := true
		for _, m := range g.members {
			if m.id != except && !m.supports(p.name) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// selectProtocol is Kafka's vote: among the protocols every member
// supports, each member votes for the first in its own preference order;
// the most votes wins, ties going to the earlier candidate.
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	var candidates []string
	for _, p := range ms[0].protocols {
		all := true
		for _, m := range ms[1:] {
			if !m.supports(p.name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.name)
		}
	}
	votes := map[string]int{}
	for _, m := range ms {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best := ""
	for _, name := range candidates {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// maxRebalanceTimeout is the longest rebalance timeout of the members.
func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// newMemberID is Kafka's form: a client id or instance id, a dash, a UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// isEmpty reports a group with neither members nor offsets, committed or
// pending: one that can be forgotten.
func (g *group) isEmpty() bool {
	return g.state == StateEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
		len(g.offsets) == 0 && len(g.pendingOffsets) == 0
}
