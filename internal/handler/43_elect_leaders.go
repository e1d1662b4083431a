package handler

// ElectLeaders, key 43, versions 0-2: an operator's leader elections
// (kafka-leader-election, Admin.electLeaders). v0 runs preferred
// elections; v1 adds ElectionType (0 preferred, 1 unclean) and a
// top-level error; v2 is flexible. Each partition's election is a record
// proposed through the metadata store, which forwards it to the active
// controller's log; apply decides it deterministically, so any broker
// answers. The answers are Kafka's (ReplicationControlManager.electLeaders):
// ELECTION_NOT_NEEDED where the preferred replica leads (preferred) or
// the partition has a leader (unclean), PREFERRED_LEADER_NOT_AVAILABLE
// where the preferred replica is not a live ISR member,
// ELIGIBLE_LEADERS_NOT_AVAILABLE where no replica is live,
// UNKNOWN_TOPIC_OR_PARTITION. A null topic list means every partition of
// every topic, and then partitions that need no election are left out of
// the response, as Kafka does. An unclean election asked for here runs
// whatever unclean.leader.election.enable says: the operator asked for
// it, as in Kafka. ALTER on the cluster is required; without it every
// named partition and the top level get CLUSTER_AUTHORIZATION_FAILED.
//
// TimeoutMillis bounds the request (timedReply). Kafka's controller
// elects all partitions in one batch of records and, past the deadline,
// fails the whole request with REQUEST_TIMED_OUT; here each partition is
// its own record, so those not decided in time get REQUEST_TIMED_OUT and
// the others their outcome.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// Kafka's ElectionType values (org.apache.kafka.common.ElectionType).
const (
	electionPreferred int8 = 0
	electionUnclean   int8 = 1
)

// electionsInFlightMax bounds the elections one request has proposed and
// not yet seen decided: enough to elect thousands of partitions within a
// tool's timeout, few enough that one request cannot fill the metadata
// store's table of waiting proposals.
const electionsInFlightMax = 16

func (h *Handler) electLeaders(ctx context.Context, who protocol.Principal, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	electionType := req.ElectionType
	if req.Version == 0 {
		electionType = electionPreferred // v0 has no ElectionType
	}
	switch {
	case !h.allowedCluster(ctx, who, kmsg.ACLOperationAlter):
		return electLeadersFailed(req, errClusterDenied)
	case electionType != electionPreferred && electionType != electionUnclean:
		return electLeadersFailed(req, fmt.Errorf("%w: unknown election type %d", kerr.InvalidRequest, electionType))
	}
	unclean := electionType == electionUnclean
	var elections []election
	if req.Topics == nil {
		elections = h.electionsNeeded(unclean)
	} else {
		elections = h.electionsNamed(req.Topics)
	}
	h.runElections(ctx, elections, unclean)

	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	for i := 0; i < len(elections); {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = elections[i].topic
		for entry := elections[i].entry; i < len(elections) && elections[i].entry == entry; i++ {
			e := elections[i]
			if e.err == errNoPartitions || (req.Topics == nil && errors.Is(e.err, kerr.ElectionNotNeeded)) {
				continue
			}
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = e.partition
			if e.err != nil {
				rp.ErrorCode, rp.ErrorMessage = errorCode(e.err), errorMessage(e.err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		if req.Topics != nil || len(rt.Partitions) > 0 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	return resp
}

// election is one partition's election in a request and its outcome.
type election struct {
	entry     int // the request's topic entry (or the image's topic) it answers
	topic     string
	id        metadata.TopicID
	partition int32
	err       error // the outcome; set before the election runs for an unknown topic
	known     bool  // the topic exists: the election is proposed
}

// electionsNamed lists the partitions a request names, in its order; a
// topic or partition that this broker's image does not know is answered
// without a proposal.
func (h *Handler) electionsNamed(topics []kmsg.ElectLeadersRequestTopic) []election {
	im := h.b.Meta.Image()
	var out []election
	for entry, rt := range topics {
		t, ok := im.Topics[rt.Topic]
		for _, p := range rt.Partitions {
			e := election{entry: entry, topic: rt.Topic, partition: p}
			switch {
			case !ok:
				e.err = fmt.Errorf("%w: no such topic as %s", kerr.UnknownTopicOrPartition, rt.Topic)
			case p < 0 || p >= t.Partitions:
				// Not worth a record: apply would refuse it the same way.
				e.err = fmt.Errorf("%w: no such partition as %s-%d", kerr.UnknownTopicOrPartition, rt.Topic, p)
			default:
				e.id, e.known = t.ID, true
			}
			out = append(out, e)
		}
		if len(rt.Partitions) == 0 {
			// Kafka answers a topic entry without partitions with an
			// empty result for it.
			out = append(out, election{entry: entry, topic: rt.Topic, partition: -1, err: errNoPartitions})
		}
	}
	return out
}

// errNoPartitions marks a request entry that named a topic and no
// partition: the topic is answered with no partition results.
var errNoPartitions = errors.New("no partitions named")

// electionsNeeded lists, for a request without a topic list, every
// partition whose image says it may need the election: where the
// preferred replica already leads (preferred) or the partition has a
// leader (unclean), the answer would be ELECTION_NOT_NEEDED, which such a
// request leaves out, so no record is proposed for it.
func (h *Handler) electionsNeeded(unclean bool) []election {
	var out []election
	for entry, t := range h.b.Meta.Image().SortedTopics() {
		for i, p := range t.Assignments {
			if len(p.Replicas) == 0 || (!unclean && p.Leader == p.Replicas[0]) || (unclean && p.Leader != metadata.NoLeader) {
				continue
			}
			out = append(out, election{entry: entry, topic: t.Name, id: t.ID, partition: int32(i), known: true})
		}
	}
	return out
}

// runElections proposes each known election, at most
// electionsInFlightMax at a time, and records their outcomes.
func (h *Handler) runElections(ctx context.Context, elections []election, unclean bool) {
	sem := make(chan struct{}, electionsInFlightMax)
	var wg sync.WaitGroup
	for i := range elections {
		if !elections[i].known {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(e *election) {
			defer func() { <-sem; wg.Done() }()
			_, e.err = h.b.Meta.ElectLeaders(ctx, e.id, e.partition, unclean)
		}(&elections[i])
	}
	wg.Wait()
}

// electLeadersFailed is the answer to a request refused as a whole
// (Kafka's ElectLeadersRequest.getErrorResponse): the error at the top
// level (v1+) and for every partition named.
func electLeadersFailed(req *kmsg.ElectLeadersRequest, err error) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.ErrorCode = errorCode(err)
	for _, rt := range req.Topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = p
			sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
