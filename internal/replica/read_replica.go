package replica

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// Follower fetching (KIP-392), as Kafka's ReplicaManager and
// RackAwareReplicaSelector do it.
//
// A consumer's Fetch from v11 on carries its client.rack and may be
// answered by any replica hosting the partition, not only the leader
// (Kafka's FetchParams.fetchOnlyLeader is false for it): ReadReplica. A
// follower serves it like a leader, bounded by its own high watermark,
// which never passes the leader's (followHighWatermark), so a consumer
// reads only committed records wherever it reads. An offset between the
// follower's high watermark and its log end reads nothing (the long poll
// waits for the follower's high watermark to move); one past its log
// end, or below its log start, is OFFSET_OUT_OF_RANGE, which sends
// Kafka's clients back to the leader.
//
// With replica.selector.class set to RackAwareReplicaSelector, the leader
// answers such a fetch, when the consumer's rack holds an in-sync
// follower and not the leader itself, with that follower as
// PreferredReadReplica and no records (PreferredReadReplica). A follower
// never redirects. A follower that leaves the ISR is no longer chosen:
// clients come back to the leader (when the follower fails them, and
// periodically: Java's metadata.max.age.ms, franz-go's
// RecheckPreferredReplicaInterval) and are then kept there or sent to
// another in-sync replica.

// RackAwareReplicaSelector is the replica.selector.class value that turns
// follower fetching on: Kafka's rack-aware selector. config validates the
// key; any other non-empty value here selects nothing.
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// ReadReplica returns the partition hosted here for a consumer's fetch
// that may be answered by a follower (Fetch v11+): the partition when
// this broker leads it (as Leader), or when it is one of its replicas
// and has it open. Reads from it are bounded by its high watermark,
// whichever role it has. A partition this broker is not a replica of,
// or still opening, gets NOT_LEADER_OR_FOLLOWER, as Kafka answers.
func (m *Manager) ReadReplica(topic string, partition int32) (*Partition, error) {
	t, ok := m.image().Topics[topic]
	if !ok || partition < 0 || partition >= t.Partitions {
		return nil, kerr.UnknownTopicOrPartition
	}
	if t.Assignments[partition].Leader == m.node {
		return m.Leader(topic, partition)
	}
	if !t.Hosts(m.node, partition) {
		return nil, fmt.Errorf("%w: broker %d is not a replica of %s-%d", kerr.NotLeaderForPartition, m.node, topic, partition)
	}
	p, ok := m.Get(topic, partition)
	if !ok || p.TopicID != t.ID {
		return nil, fmt.Errorf("%w: partition %s-%d is still opening", kerr.NotLeaderForPartition, topic, partition)
	}
	// The follower's leader and epoch are the ones Reconcile gave it,
	// with its fetcher: a request must not change them under the
	// fetcher, so a client's newer epoch is UNKNOWN_LEADER_EPOCH until
	// the reconcile.
	return p, nil
}

// PreferredReadReplica returns the broker a consumer in clientRack
// should fetch p's offset from instead of this one, as Kafka's
// findPreferredReadReplica with its RackAwareReplicaSelector: only when
// the selector is configured, p is led here, the consumer names a rack
// and the leader is not in it. The candidates are the followers in the
// committed ISR, registered and unfenced in the current image, in the
// consumer's rack, whose log (as the leader knows it from their
// fetches) holds offset: log start <= offset <= durable log end. The
// most caught-up wins: the largest log end, then the most recent catch
// up, then the largest broker id. ok is false when the consumer should
// read here.
func (m *Manager) PreferredReadReplica(p *Partition, clientRack string, offset int64, now time.Time) (replica int32, ok bool) {
	if m.selector != RackAwareReplicaSelector || clientRack == "" {
		return -1, false
	}
	im := m.image()
	if rackOf(im, m.node) == clientRack {
		return -1, false // the leader is in the consumer's rack
	}
	var best *replicaView
	for _, v := range p.readReplicaViews(offset, now) {
		b, registered := im.Brokers[v.id]
		if !registered || b.Fenced || rackOf(im, v.id) != clientRack {
			continue
		}
		if best == nil || v.moreCaughtUp(*best) {
			best = &v
		}
	}
	if best == nil {
		return -1, false
	}
	return best.id, true
}

// rackOf is broker id's broker.rack in im, "" when it has none or is not
// registered.
func rackOf(im *metadata.Image, id int32) string {
	if b, ok := im.Brokers[id]; ok && b.Rack != nil {
		return *b.Rack
	}
	return ""
}

// replicaView is what the leader knows of one follower when choosing a
// read replica: Kafka's ReplicaView.
type replicaView struct {
	id     int32
	logEnd int64 // the follower's last fetch offset: its durable log end
	// sinceCaughtUp is how long ago the follower last had everything
	// the leader had.
	sinceCaughtUp time.Duration
}

// moreCaughtUp orders views as Kafka's ReplicaView.comparator, which the
// selector takes the largest of: log end, then the shorter time since
// the follower last caught up, then the broker id.
func (v replicaView) moreCaughtUp(o replicaView) bool {
	if v.logEnd != o.logEnd {
		return v.logEnd > o.logEnd
	}
	if v.sinceCaughtUp != o.sinceCaughtUp {
		return v.sinceCaughtUp < o.sinceCaughtUp
	}
	return v.id > o.id
}

// readReplicaViews returns the followers that may serve a consumer's
// read at offset, when this broker leads p: those in the committed ISR
// (Kafka's inSyncReplicaIds; a follower still joining may lag) whose
// log, as their fetches told the leader, holds offset. Nil when p is
// not led here.
func (p *Partition) readReplicaViews(offset int64, now time.Time) []replicaView {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	l := &p.lead
	if !l.leading {
		return nil
	}
	var views []replicaView
	for _, id := range l.isr {
		fs, ok := l.followers[id]
		if !ok || fs.fetchOffset < offset || fs.logStartOffset > offset {
			continue
		}
		views = append(views, replicaView{id: id, logEnd: fs.fetchOffset, sinceCaughtUp: now.Sub(fs.lastCaughtUp)})
	}
	return views
}
