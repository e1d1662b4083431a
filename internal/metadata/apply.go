package metadata

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Result is what applying a record decided, handed back to its proposer.
// Apply is deterministic, so every node decides the same.
type Result struct {
	// Err is nil, or a kerr error wrapped with a message for the client.
	Err error
	// Topic is the created or changed topic.
	Topic *Topic
	// ProducerIDStart is the first id of an allocated block.
	ProducerIDStart int64
	// BrokerEpoch is a registration's epoch.
	BrokerEpoch uint64
	// Partition is the partition after an accepted AlterPartition or
	// leader election.
	Partition *Partition
	// Unclean is set when an election made a replica outside the ISR
	// the leader.
	Unclean bool
}

// apply returns the image after record r at log index, and the outcome.
// im is never modified; the new image shares what did not change.
func (im *Image) apply(index uint64, r *Record) (*Image, Result) {
	next := *im
	next.Index, next.ownTopics = index, false
	var res Result
	switch {
	case r.Cluster != nil:
		if next.ClusterID == "" {
			next.ClusterID = r.Cluster.ID
		}
		res = next.initFeatures(index, r.Cluster.Features)
	case r.RegisterBroker != nil:
		res = next.registerBroker(index, r.RegisterBroker)
	case r.FenceBroker != nil:
		res = next.fenceBroker(r.FenceBroker)
	case r.CreateTopic != nil:
		res = next.createTopic(r.CreateTopic)
	case r.DeleteTopic != nil:
		res = next.deleteTopic(r.DeleteTopic)
	case r.CreatePartitions != nil:
		res = next.createPartitions(r.CreatePartitions)
	case r.SetConfigs != nil:
		res = next.setConfigs(r.SetConfigs)
	case r.ProducerIDs != nil:
		res.ProducerIDStart = next.NextProducerID
		next.NextProducerID += max(r.ProducerIDs.Count, 0)
	case r.AlterPartition != nil:
		res = next.alterPartition(r.AlterPartition)
	case r.ElectLeader != nil:
		res = next.electLeader(r.ElectLeader)
	case r.CreateACLs != nil:
		res = next.createACLs(r.CreateACLs)
	case r.DeleteACLs != nil:
		res = next.deleteACLs(r.DeleteACLs)
	case r.ScramCredentials != nil:
		res = next.alterScram(r.ScramCredentials)
	case r.Reassign != nil:
		res = next.reassign(r.Reassign)
	case r.UnregisterBroker != nil:
		res = next.unregisterBroker(r.UnregisterBroker)
	case r.FeatureLevel != nil:
		res = next.setFeatureLevel(index, r.FeatureLevel)
	}
	return &next, res
}

// registerBroker registers a broker. A registration of a broker id
// already known is a new incarnation that may have lost its disk: it
// leaves the ISRs and leaderships of the old one, as a fencing does, and
// then leads where it is the sole ISR member (with a new leader epoch).
func (im *Image) registerBroker(index uint64, r *RegisterBrokerRecord) Result {
	_, known := im.Brokers[r.ID]
	im.Brokers = maps.Clone(im.Brokers)
	im.Brokers[r.ID] = &Broker{ID: r.ID, Epoch: index, Incarnation: r.Incarnation, Endpoints: slices.Clone(r.Endpoints), Rack: r.Rack}
	gone := NoLeader
	if known {
		gone = r.ID
	}
	im.electLeaders(gone)
	return Result{BrokerEpoch: index}
}

// fenceBroker fences or unfences a broker: fencing takes it out of the
// ISRs and leaderships it holds, unfencing lets it lead where it is the
// sole ISR member.
func (im *Image) fenceBroker(r *FenceBrokerRecord) Result {
	b, ok := im.Brokers[r.ID]
	if !ok || b.Epoch != r.Epoch {
		return Result{Err: fmt.Errorf("%w: broker %d epoch %d is not registered", kerr.StaleBrokerEpoch, r.ID, r.Epoch)}
	}
	if b.Fenced == r.Fenced {
		return Result{}
	}
	nb := *b
	nb.Fenced = r.Fenced
	im.Brokers = maps.Clone(im.Brokers)
	im.Brokers[r.ID] = &nb
	gone := NoLeader
	if r.Fenced {
		gone = r.ID
	}
	im.electLeaders(gone)
	return Result{}
}

// Live reports whether broker id is registered and not fenced.
func (im *Image) Live(id int32) bool {
	b, ok := im.Brokers[id]
	return ok && !b.Fenced
}

// electLeaders moves leadership after brokers changed (see elect), gone
// being the broker fenced or registered anew, NoLeader for none.
func (im *Image) electLeaders(gone int32) {
	changed := map[string]*Topic{}
	for name, t := range im.Topics {
		var nt *Topic
		for i, p := range t.Assignments {
			np, ok := im.elect(p, gone)
			if !ok {
				continue
			}
			if nt == nil {
				c := *t
				c.Assignments = slices.Clone(t.Assignments)
				nt = &c
			}
			nt.Assignments[i] = np
		}
		if nt != nil {
			changed[name] = nt
		}
	}
	for _, t := range changed {
		im.putTopic(t)
	}
}

// elect returns p after brokers changed, and whether it changed. Broker
// gone (NoLeader for none) leaves the ISR unless it is its sole member:
// then it alone may hold the last acknowledged records, so it stays, and
// the partition waits for it. A leader that is gone or not live loses the
// leadership; a leaderless partition takes its first live ISR member in
// replica order. Only ISR members have every acknowledged record, so no
// other replica is elected here (unclean election is an explicit record).
// A leader change, or a gone leader elected again, bumps the leader
// epoch; any change bumps the partition epoch.
func (im *Image) elect(p Partition, gone int32) (Partition, bool) {
	isr := p.ISR
	if gone != NoLeader && len(isr) > 1 && slices.Contains(isr, gone) {
		isr = slices.DeleteFunc(slices.Clone(isr), func(id int32) bool { return id == gone })
	}
	leader := p.Leader
	if leader != NoLeader && (leader == gone || !im.Live(leader)) {
		leader = NoLeader
	}
	if leader == NoLeader {
		leader = firstLive(im, p.Replicas, isr)
	}
	newLeader := leader != p.Leader || (leader != NoLeader && leader == gone)
	if !newLeader && len(isr) == len(p.ISR) {
		return p, false
	}
	p.ISR, p.Leader = isr, leader
	if newLeader {
		p.LeaderEpoch++
	}
	p.PartitionEpoch++
	return p, true
}

// firstLive returns the first live member of set in replica order,
// NoLeader if none is live.
func firstLive(im *Image, replicas, set []int32) int32 {
	for _, id := range replicas {
		if slices.Contains(set, id) && im.Live(id) {
			return id
		}
	}
	return NoLeader
}

// putTopic stores t, cloning the maps the previous image shares.
func (im *Image) putTopic(t *Topic) {
	if !im.ownTopics {
		im.Topics, im.byID = maps.Clone(im.Topics), maps.Clone(im.byID)
		im.ownTopics = true
	}
	im.Topics[t.Name] = t
	im.byID[t.ID] = t
}

func (im *Image) createTopic(r *CreateTopicRecord) Result {
	if _, ok := im.Topics[r.Name]; ok {
		return Result{Err: fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, r.Name)}
	}
	if _, ok := im.byID[r.ID]; ok || r.ID == (TopicID{}) {
		return Result{Err: fmt.Errorf("%w: topic id %s is taken", kerr.InvalidRequest, r.ID)}
	}
	ps, err := im.newPartitions(r.Replicas)
	if err != nil {
		return Result{Err: err}
	}
	t := &Topic{Name: r.Name, ID: r.ID, Partitions: int32(len(ps)), Configs: maps.Clone(r.Configs), Assignments: ps}
	im.putTopic(t)
	return Result{Topic: t}
}

// newPartitions checks an assignment. A new partition holds no record
// yet, so every live replica is in sync: the ISR is the live replicas in
// replica order, led by the first. With none live, the first replica is
// the ISR and the partition waits for it.
func (im *Image) newPartitions(replicas [][]int32) ([]Partition, error) {
	if len(replicas) == 0 {
		return nil, fmt.Errorf("%w: a topic needs at least one partition", kerr.InvalidPartitions)
	}
	ps := make([]Partition, len(replicas))
	for i, rs := range replicas {
		if len(rs) == 0 {
			return nil, fmt.Errorf("%w: partition %d has no replicas", kerr.InvalidReplicaAssignment, i)
		}
		for j, id := range rs {
			if _, ok := im.Brokers[id]; !ok {
				return nil, fmt.Errorf("%w: broker %d is not registered", kerr.InvalidReplicaAssignment, id)
			}
			if slices.Contains(rs[:j], id) {
				return nil, fmt.Errorf("%w: partition %d names broker %d twice", kerr.InvalidReplicaAssignment, i, id)
			}
		}
		p := Partition{Replicas: slices.Clone(rs), ISR: []int32{rs[0]}, Leader: NoLeader}
		if live := slices.DeleteFunc(slices.Clone(rs), func(id int32) bool { return !im.Live(id) }); len(live) > 0 {
			p.Leader, p.ISR = live[0], live
		}
		ps[i] = p
	}
	return ps, nil
}

func (im *Image) deleteTopic(r *DeleteTopicRecord) Result {
	t, ok := im.byID[r.ID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, r.Name)}
	}
	im.putTopic(t) // clones the maps
	delete(im.Topics, t.Name)
	delete(im.byID, t.ID)
	return Result{Topic: t}
}

func (im *Image) createPartitions(r *CreatePartitionsRecord) Result {
	t, ok := im.byID[r.ID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: topic %s does not exist", kerr.UnknownTopicOrPartition, r.ID)}
	}
	if t.Partitions != r.From {
		return Result{Err: fmt.Errorf("%w: topic %q has %d partitions, not %d", kerr.InvalidPartitions, t.Name, t.Partitions, r.From)}
	}
	ps, err := im.newPartitions(r.Replicas)
	if err != nil {
		return Result{Err: err}
	}
	nt := *t
	nt.Assignments = append(slices.Clone(t.Assignments), ps...)
	nt.Partitions = int32(len(nt.Assignments))
	im.putTopic(&nt)
	return Result{Topic: &nt}
}

func (im *Image) setConfigs(r *SetConfigsRecord) Result {
	t, ok := im.byID[r.ID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: topic %s does not exist", kerr.UnknownTopicOrPartition, r.ID)}
	}
	nt := *t
	nt.Configs = maps.Clone(r.Configs)
	im.putTopic(&nt)
	return Result{Topic: &nt}
}
