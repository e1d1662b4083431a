package handler

// Fetch, key 1, versions 4-16.
//
// A fetch long-polls: it answers as soon as MinBytes are available, and
// always by MaxWaitMillis. Record bytes are served from the segments as
// stored: the response names them as log Sections (01_fetch_sections.go),
// which the server sends with sendfile on plaintext TCP. Topic ids are
// used from v13 on; the client's current leader epoch is checked from v9
// on (KIP-320). Consumers read below the high watermark only.
//
// A fetch from a replica (v15+ ReplicaState.ID >= 0, before that
// ReplicaID >= 0) is a follower's: it needs CLUSTER_ACTION on the cluster
// (else every partition is TOPIC_AUTHORIZATION_FAILED, as Kafka answers),
// the broker must be a registered, unfenced replica of each partition
// with the broker epoch it sends (replica.Manager.Follower), and each
// partition is read up to the log end (replica.Partition.FetchForFollower),
// which records the follower's offset: the high watermark and the ISR
// follow it. A follower whose log diverges (its LastFetchedEpoch, v12+)
// gets DivergingEpoch and no records, at once. Its long poll wakes on
// appends, not only on high watermark moves. Its bytes are not counted
// as the topic's bytes out (Kafka counts them as replication).
//
// A consumer's fetch from v11 on may be answered by any replica of a
// partition, as Kafka's (replica.Manager.ReadReplica): a follower reads
// up to its own high watermark. With replica.selector.class set to
// Kafka's RackAwareReplicaSelector, the leader answers a consumer whose
// rack (Rack, its client.rack) holds an in-sync follower, and not the
// leader, with that follower as PreferredReadReplica, no records, at
// once (replica.Manager.PreferredReadReplica); the client fetches from
// it next (KIP-392). Before v11 consumers read from the leader only.
//
// Not implemented: fetch sessions (KIP-227; the broker answers session id
// 0, which tells clients to send full fetches).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/replica"
)

const (
	// fetchBytesMax is Kafka's fetch.max.bytes broker default: no response
	// carries more, whatever the client asks.
	fetchBytesMax = 55 << 20
	// fetchWaitMax bounds MaxWaitMillis, so a client cannot park a request
	// for hours.
	fetchWaitMax = 30 * time.Second
	// fetchUnknownPartitionsMax is how many partitions a fetch may name
	// beyond those the broker hosts (clients with stale metadata name a
	// few deleted ones).
	fetchUnknownPartitionsMax = 1000
)

func (h *Handler) fetch(who protocol.Principal, req *kmsg.FetchRequest) Reply {
	n := len(req.Topics)
	for _, rt := range req.Topics {
		n += len(rt.Partitions)
	}
	if n > 2*h.b.Replicas.Len()+fetchUnknownPartitionsMax {
		// Each named topic and partition costs memory in every pass of
		// the long poll; a fetch naming far more of them than exist (a
		// topic and its partition count twice) is hostile.
		h.b.Logger.Warn("refusing fetch naming more partitions than the broker hosts", "partitions", n)
		return Reply{None: true, Close: true}
	}
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := h.fetchWait(ctx, who, req)
		if from := fetcherOf(req); !from.isReplica() {
			resp.count(h.b.Metrics)
		}
		return resp
	}}
}

// fetcher is who sends a fetch: a consumer, or a follower broker with its
// registration epoch (-1 before Fetch v15).
type fetcher struct {
	replica     int32
	brokerEpoch int64
}

// isReplica reports whether the fetch is a follower's. Consumers send
// -1, and Kafka's debug consumer -2.
func (f fetcher) isReplica() bool { return f.replica >= 0 }

// fetcherOf reads who fetches: ReplicaState from v15 on (KIP-903),
// ReplicaID before.
func fetcherOf(req *kmsg.FetchRequest) fetcher {
	if req.Version >= 15 {
		return fetcher{replica: req.ReplicaState.ID, brokerEpoch: req.ReplicaState.Epoch}
	}
	return fetcher{replica: req.ReplicaID, brokerEpoch: -1}
}

// fetchWait reads, and if there is not enough yet, waits for the high
// watermark of any requested partition to move (for a follower: for an
// append too), until MaxWaitMillis. The sections of every pass but the
// one answered are released.
func (h *Handler) fetchWait(ctx context.Context, who protocol.Principal, req *kmsg.FetchRequest) *FetchResponse {
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, fetchWaitMax)
	deadline := time.Now().Add(wait)
	waitCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	waiter := replica.NewWaiter()
	defer waiter.Close()
	watching := false
	for {
		resp, bytes, answerNow := h.fetchOnce(ctx, who, req)
		if bytes >= int(req.MinBytes) || answerNow || time.Until(deadline) <= 0 {
			return resp
		}
		if !watching {
			// Watch, then read once more, so a write between the read
			// and the watch is not missed.
			h.watch(req, waiter)
			watching = true
			resp.Release()
			continue
		}
		waiter.Wait(waitCtx) // woken, or the deadline: read again
		if ctx.Err() != nil {
			return resp
		}
		resp.Release()
	}
}

// watch makes waiter watch every requested partition a read may wait on:
// its high watermark for a consumer (on a follower too from v11 on), its
// log end too for a follower.
func (h *Handler) watch(req *kmsg.FetchRequest, waiter *replica.Waiter) {
	im := h.b.Meta.Image()
	from := fetcherOf(req)
	for _, rt := range req.Topics {
		t, ok := fetchTopic(im, req.Version, rt)
		if !ok {
			continue
		}
		for _, rp := range rt.Partitions {
			if !from.isReplica() {
				if p, err := h.consumerReplica(t.Name, rp.Partition, req.Version); err == nil {
					waiter.Watch(p)
				}
			} else if p, err := h.b.Replicas.Follower(t.Name, rp.Partition, from.replica, from.brokerEpoch); err == nil {
				waiter.WatchLogEnd(p)
			}
		}
	}
}

// fetchTopic resolves a requested topic by id (v13+) or name.
func fetchTopic(im *metadata.Image, version int16, rt kmsg.FetchRequestTopic) (*metadata.Topic, bool) {
	if version >= 13 {
		return im.TopicByID(rt.TopicID)
	}
	t, ok := im.Topics[rt.Topic]
	return t, ok
}

// fetchOnce builds a response from what is readable now. It reports the
// record bytes gathered and whether to answer now: a partition failed or
// diverges, which answers the fetch at once, as Kafka does.
func (h *Handler) fetchOnce(ctx context.Context, who protocol.Principal, req *kmsg.FetchRequest) (resp *FetchResponse, bytes int, answerNow bool) {
	resp = newFetchResponse(req)
	im := h.b.Meta.Image()
	from := fetcherOf(req)
	// A follower's fetch is the cluster's (Kafka's CLUSTER_ACTION),
	// whatever the topics' ACLs say.
	replicaAllowed := from.isReplica() && h.allowedCluster(ctx, who, kmsg.ACLOperationClusterAction)
	budget := fetchBytesMax
	if req.MaxBytes > 0 {
		budget = min(budget, int(req.MaxBytes))
	}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, known := fetchTopic(im, req.Version, rt)
		readable := replicaAllowed
		if !from.isReplica() {
			readable = !known && h.allowedTopic(ctx, who, kmsg.ACLOperationRead, rt.Topic) ||
				known && h.allowedTopic(ctx, who, kmsg.ACLOperationRead, t.Name)
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.RecordBatches = []byte{}
			var sec replica.Section
			var err error
			maxBytes := min(budget, int(rp.PartitionMaxBytes))
			switch {
			case !known && req.Version >= 13:
				err = kerr.UnknownTopicID
			case !readable:
				err = kerr.TopicAuthorizationFailed
			case !known:
				err = kerr.UnknownTopicOrPartition
			case from.isReplica():
				var diverging bool
				sec, diverging, err = h.fetchForFollower(t.Name, from, rp, &sp, req.Version, maxBytes, bytes == 0)
				answerNow = answerNow || diverging
			default:
				var redirect bool
				sec, redirect, err = h.fetchPartition(t.Name, req, rp, &sp, maxBytes, bytes == 0)
				answerNow = answerNow || redirect
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				answerNow = true
				if !from.isReplica() {
					// Kafka answers a consumer's failed partition
					// without offsets (FetchResponse.partitionResponse).
					// A follower keeps them: it restarts from the
					// leader's log start or high watermark after
					// OFFSET_OUT_OF_RANGE without asking ListOffsets.
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				}
			}
			if sec.Len() > 0 {
				resp.sections = append(resp.sections, fetchSection{topic: len(resp.Topics), partition: len(st.Partitions), sec: sec})
			}
			budget -= sec.Len()
			bytes += sec.Len()
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
		name := ""
		if known {
			name = t.Name
		}
		resp.topicNames = append(resp.topicNames, name)
	}
	return resp, bytes, answerNow
}

// fetchPartition fills sp's offsets and returns the section of the
// partition's log to send as its records. minOne lets the first non-empty
// partition return a whole batch larger than the limits (KIP-74), so an
// oversized batch cannot stall a consumer. From v9 on the client's current
// leader epoch is checked (KIP-320). From v11 on a follower may answer,
// and the leader may send the client to a replica in its rack instead:
// then sp names it, no records are read, and redirect is set.
func (h *Handler) fetchPartition(topic string, req *kmsg.FetchRequest, rp kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, maxBytes int, minOne bool) (sec replica.Section, redirect bool, err error) {
	p, err := h.consumerReplica(topic, rp.Partition, req.Version)
	if err != nil {
		return replica.Section{}, false, err
	}
	if req.Version >= 9 {
		if err := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); err != nil {
			return replica.Section{}, false, err
		}
	}
	if req.Version >= 11 {
		if id, ok := h.b.Replicas.PreferredReadReplica(p, req.Rack, rp.FetchOffset, time.Now()); ok {
			// Kafka skips the read and answers the offsets alone.
			maxBytes, minOne, redirect = 0, false, true
			sp.PreferredReadReplica = id
		}
	}
	f, err := p.Fetch(rp.FetchOffset, maxBytes, minOne)
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = f.HighWatermark, f.HighWatermark, f.LogStartOffset
	return f.Records, redirect, err
}

// consumerReplica is the partition a consumer's fetch at version reads:
// from v11 on any replica hosted here (Kafka's fetchOnlyLeader is false
// once the client sends its metadata), before that the leader only.
func (h *Handler) consumerReplica(topic string, partition int32, version int16) (*replica.Partition, error) {
	if version >= 11 {
		return h.b.Replicas.ReadReplica(topic, partition)
	}
	return h.b.Replicas.Leader(topic, partition)
}

// fetchForFollower answers one partition of a follower's fetch: the
// partition must be led here with from as a valid replica
// (replica.Manager.Follower); the read goes up to the log end and records
// the follower's offset. The current leader epoch counts from v9 on, the
// last fetched epoch from v12 on; it reports whether the follower's log
// diverges (DivergingEpoch set, no records).
func (h *Handler) fetchForFollower(topic string, from fetcher, rp kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, version int16, maxBytes int, minOne bool) (replica.Section, bool, error) {
	p, err := h.b.Replicas.Follower(topic, rp.Partition, from.replica, from.brokerEpoch)
	if err != nil {
		return replica.Section{}, false, err
	}
	f := replica.FollowerFetch{
		Replica: from.replica, FetchOffset: rp.FetchOffset, LastFetchedEpoch: -1, CurrentLeaderEpoch: -1,
		MaxBytes: maxBytes, MinOne: minOne, Now: time.Now(),
	}
	if version >= 9 {
		f.CurrentLeaderEpoch = rp.CurrentLeaderEpoch
	}
	if version >= 12 {
		f.LastFetchedEpoch = rp.LastFetchedEpoch
	}
	f.LogStartOffset = -1
	if version >= 5 {
		f.LogStartOffset = rp.LogStartOffset
	}
	got, err := p.FetchForFollower(f)
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = got.HighWatermark, got.HighWatermark, got.LogStartOffset
	if got.Diverging != nil {
		d := kmsg.NewFetchResponseTopicPartitionDivergingEpoch()
		d.Epoch, d.EndOffset = got.Diverging.Epoch, got.Diverging.EndOffset
		sp.DivergingEpoch = d
	}
	return got.Records, got.Diverging != nil, err
}
