package handler

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// electRequest is an ElectLeaders at version of the named partitions of
// topics (nil: every partition), as a tool sends it.
func electRequest(version int16, electionType int8, topics map[string][]int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.SetVersion(version)
	req.ElectionType, req.TimeoutMillis = electionType, 5000
	for topic, partitions := range topics {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = topic, partitions
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// electResults is an ElectLeaders answer as topic → partition → error
// code.
func electResults(resp *kmsg.ElectLeadersResponse) map[string]map[int32]int16 {
	out := map[string]map[int32]int16{}
	for _, rt := range resp.Topics {
		if out[rt.Topic] == nil {
			out[rt.Topic] = map[int32]int16{}
		}
		for _, rp := range rt.Partitions {
			out[rt.Topic][rp.Partition] = rp.ErrorCode
		}
	}
	return out
}

// leaderOf is the image's leader of topic's partition 0.
func leaderOf(h *Handler, topic string) int32 {
	return h.b.Meta.Image().Topics[topic].Assignments[0].Leader
}

// rejoinISR has broker 2, leading topic's partition 0, take this broker
// back into its ISR.
func rejoinISR(t *testing.T, h *Handler, topic string) {
	t.Helper()
	im := h.b.Meta.Image()
	a := im.Topics[topic].Assignments[0]
	if _, err := h.b.Meta.AlterPartition(context.Background(), metadata.AlterPartitionRecord{TopicID: im.Topics[topic].ID,
		Leader: followerID, BrokerEpoch: im.Brokers[followerID].Epoch, LeaderEpoch: a.LeaderEpoch,
		PartitionEpoch: a.PartitionEpoch, ISR: []int32{h.b.NodeID, followerID}}); err != nil {
		t.Fatal(err)
	}
}

// TestElectLeaders: Kafka's answers at every version. Topic "r" has
// replicas [1 2]; broker 1 (this one) restarts, 2 takes over, and the
// preferred election gives 1 its leadership back once it is in the ISR
// again. Topic "solo" lives on broker 2 alone, which stops: only an
// unclean election could help, and nobody is left to elect.
func TestElectLeaders(t *testing.T) {
	h := protoHandler(t)
	ctx := context.Background()
	replicatedTopic(t, h, "r", nil)
	if _, err := h.b.Meta.CreateTopic(ctx, "solo", 1, 1, [][]int32{{followerID}}, nil); err != nil {
		t.Fatal(err)
	}
	preferred := func(version int16, topics map[string][]int32) map[string]map[int32]int16 {
		t.Helper()
		resp := roundTrip[*kmsg.ElectLeadersResponse](t, h, electRequest(version, electionPreferred, topics))
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: top-level %v", version, kerr.ErrorForCode(resp.ErrorCode))
		}
		return electResults(resp)
	}
	want := func(what string, got map[string]map[int32]int16, topic string, partition int32, code int16) {
		t.Helper()
		if c, ok := got[topic][partition]; !ok || c != code {
			t.Errorf("%s: %s-%d answered %v (present %v), want %v; all %v", what, topic, partition,
				kerr.ErrorForCode(c), ok, kerr.ErrorForCode(code), got)
		}
	}

	for _, v := range []int16{0, 1, 2} {
		got := preferred(v, map[string][]int32{"r": {0, 7}, "missing": {0}})
		want("preferred replica leads", got, "r", 0, kerr.ElectionNotNeeded.Code)
		want("no such partition", got, "r", 7, kerr.UnknownTopicOrPartition.Code)
		want("no such topic", got, "missing", 0, kerr.UnknownTopicOrPartition.Code)
		if all := preferred(v, nil); len(all) != 0 {
			t.Errorf("v%d: every partition led by its preferred replica, yet the answer lists %v", v, all)
		}
	}

	// Broker 1 restarts: 2 leads, and 1 is out of the ISR.
	fence(t, h, true)
	fence(t, h, false)
	if leaderOf(h, "r") != followerID {
		t.Fatalf("leader %d after broker 1 restarted, want %d", leaderOf(h, "r"), followerID)
	}
	for _, v := range []int16{0, 2} {
		want("preferred replica out of the ISR", preferred(v, map[string][]int32{"r": {0}}), "r", 0, kerr.PreferredLeaderNotAvailable.Code)
		want("every partition", preferred(v, nil), "r", 0, kerr.PreferredLeaderNotAvailable.Code)
	}
	rejoinISR(t, h, "r")
	all := preferred(1, nil)
	want("elected", all, "r", 0, 0)
	if len(all) != 1 || len(all["r"]) != 1 {
		t.Errorf("every partition: %v, want r-0 alone", all)
	}
	if leaderOf(h, "r") != h.b.NodeID {
		t.Errorf("leader %d after the preferred election, want %d", leaderOf(h, "r"), h.b.NodeID)
	}

	// Unclean: not needed where a leader is; nobody to elect where every
	// replica is down, with or without a topic list.
	b2 := h.b.Meta.Image().Brokers[followerID]
	if err := h.b.Meta.FenceBroker(ctx, followerID, b2.Epoch, true); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int16{1, 2} {
		resp := roundTrip[*kmsg.ElectLeadersResponse](t, h, electRequest(v, electionUnclean, map[string][]int32{"r": {0}, "solo": {0}}))
		got := electResults(resp)
		want("unclean with a leader", got, "r", 0, kerr.ElectionNotNeeded.Code)
		want("unclean, every replica down", got, "solo", 0, kerr.EligibleLeadersNotAvailable.Code)
		every := electResults(roundTrip[*kmsg.ElectLeadersResponse](t, h, electRequest(v, electionUnclean, nil)))
		if len(every) != 1 || len(every["solo"]) != 1 || every["solo"][0] != kerr.EligibleLeadersNotAvailable.Code {
			t.Errorf("v%d unclean for every partition: %v, want solo-0 ELIGIBLE_LEADERS_NOT_AVAILABLE alone", v, every)
		}
	}

	bad := roundTrip[*kmsg.ElectLeadersResponse](t, h, electRequest(2, 7, map[string][]int32{"r": {0}}))
	if bad.ErrorCode != kerr.InvalidRequest.Code || electResults(bad)["r"][0] != kerr.InvalidRequest.Code {
		t.Errorf("election type 7: top-level %v, r-0 %v; want INVALID_REQUEST for both",
			kerr.ErrorForCode(bad.ErrorCode), kerr.ErrorForCode(electResults(bad)["r"][0]))
	}
}

// TestElectLeadersNeedsAlterCluster: without ALTER on the cluster nothing
// is elected, and every named partition and the top level (v1+) say
// CLUSTER_AUTHORIZATION_FAILED, as Kafka's error response does.
func TestElectLeadersNeedsAlterCluster(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "r", nil)
	fence(t, h, true)
	fence(t, h, false)
	rejoinISR(t, h, "r") // allowed, a preferred election would move the leader
	var asked []kmsg.ACLOperation
	h.b.Authorize = func(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, typ kmsg.ACLResourceType, name string) bool {
		if typ == kmsg.ACLResourceTypeCluster && name == clusterResource {
			asked = append(asked, op)
		}
		return false
	}
	caf := kerr.ClusterAuthorizationFailed.Code
	for _, v := range []int16{0, 1, 2} {
		asked = nil
		req := electRequest(v, electionPreferred, map[string][]int32{"r": {0}})
		resp := answerAs(t, h, req).(*kmsg.ElectLeadersResponse)
		if c := electResults(resp)["r"][0]; c != caf {
			t.Errorf("v%d: r-0 %v, want CLUSTER_AUTHORIZATION_FAILED", v, kerr.ErrorForCode(c))
		}
		if v >= 1 && resp.ErrorCode != caf {
			t.Errorf("v%d: top-level %v, want CLUSTER_AUTHORIZATION_FAILED", v, kerr.ErrorForCode(resp.ErrorCode))
		}
		if len(asked) != 1 || asked[0] != kmsg.ACLOperationAlter {
			t.Errorf("v%d asked the hook about cluster operations %v, want ALTER once", v, asked)
		}
	}
	if leaderOf(h, "r") != followerID {
		t.Errorf("a denied election moved the leader to %d", leaderOf(h, "r"))
	}
}

// stuckLog accepts proposals and never commits them: a quorum that lost
// its majority, seen from its leader.
type stuckLog struct{ leader int32 }

func (stuckLog) Propose(context.Context, []byte) error { return nil }

func (l stuckLog) Leader() int32 { return l.leader }

// TestElectLeadersTimeout: TimeoutMillis bounds the wait for the
// elections; one not decided by then is REQUEST_TIMED_OUT.
func TestElectLeadersTimeout(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "r", nil)
	fence(t, h, true)
	fence(t, h, false)
	rejoinISR(t, h, "r")
	h.b.Meta.SetLog(stuckLog{leader: h.b.NodeID})
	req := electRequest(2, electionPreferred, map[string][]int32{"r": {0}})
	req.TimeoutMillis = 200
	start := time.Now()
	resp := roundTrip[*kmsg.ElectLeadersResponse](t, h, req)
	if c := electResults(resp)["r"][0]; c != kerr.RequestTimedOut.Code {
		t.Errorf("r-0 with a stuck quorum: %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(c))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v, want about the request's 200ms", took)
	}
}
