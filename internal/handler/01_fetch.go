package handler

// Fetch, key 1, versions 4-16.
//
// A fetch long-polls: it answers as soon as MinBytes are available, and
// always by MaxWaitMillis. Record bytes are served from the segments as
// stored: the response names them as log Sections (01_fetch_sections.go),
// which the server sends with sendfile on plaintext TCP. Topic ids are
// used from v13 on.
//
// Not implemented: fetch sessions (KIP-227; the broker answers session id
// 0, which tells clients to send full fetches), read replicas (KIP-392),
// follower fetching (replication issue).

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/log"
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
		resp.count(h.b.Metrics)
		return resp
	}}
}

// fetchWait reads, and if there is not enough yet, waits for the high
// watermark of any requested partition to move, until MaxWaitMillis. The
// sections of every pass but the one answered are released.
func (h *Handler) fetchWait(ctx context.Context, who protocol.Principal, req *kmsg.FetchRequest) *FetchResponse {
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, fetchWaitMax)
	deadline := time.Now().Add(wait)
	woken := make(chan struct{}, 1)
	var watched []*replica.Partition
	defer func() {
		for _, p := range watched {
			p.Log.Unwatch(woken)
		}
	}()
	for {
		resp, bytes, failed := h.fetchOnce(ctx, who, req)
		remaining := time.Until(deadline)
		if bytes >= int(req.MinBytes) || failed || remaining <= 0 {
			return resp
		}
		if watched == nil {
			// Register, then read once more, so a write between the read
			// and the registration is not missed.
			watched = h.watch(req, woken)
			resp.Release()
			continue
		}
		timer := time.NewTimer(remaining)
		select {
		case <-woken:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		if ctx.Err() != nil {
			return resp
		}
		resp.Release()
	}
}

// watch registers woken on every requested partition's log.
func (h *Handler) watch(req *kmsg.FetchRequest, woken chan<- struct{}) []*replica.Partition {
	im := h.b.Meta.Image()
	watched := []*replica.Partition{}
	for _, rt := range req.Topics {
		t, ok := fetchTopic(im, req.Version, rt)
		if !ok {
			continue
		}
		for _, rp := range rt.Partitions {
			if p, err := h.leaderPartition(t.Name, rp.Partition); err == nil {
				p.Log.Watch(woken)
				watched = append(watched, p)
			}
		}
	}
	return watched
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
// record bytes gathered and whether any partition failed (which answers
// the fetch at once, as Kafka does).
func (h *Handler) fetchOnce(ctx context.Context, who protocol.Principal, req *kmsg.FetchRequest) (resp *FetchResponse, bytes int, failed bool) {
	resp = newFetchResponse(req)
	im := h.b.Meta.Image()
	budget := fetchBytesMax
	if req.MaxBytes > 0 {
		budget = min(budget, int(req.MaxBytes))
	}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, known := fetchTopic(im, req.Version, rt)
		readable := !known && h.allowedTopic(ctx, who, kmsg.ACLOperationRead, rt.Topic) ||
			known && h.allowedTopic(ctx, who, kmsg.ACLOperationRead, t.Name)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.RecordBatches = []byte{}
			var sec log.Section
			var err error
			switch {
			case !known && req.Version >= 13:
				err = kerr.UnknownTopicID
			case !readable:
				err = kerr.TopicAuthorizationFailed
			case !known:
				err = kerr.UnknownTopicOrPartition
			default:
				sec, err = h.fetchPartition(t.Name, rp, &sp, min(budget, int(rp.PartitionMaxBytes)), bytes == 0)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				failed = true
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
	return resp, bytes, failed
}

// fetchPartition fills sp's offsets and returns the section of the
// partition's log to send as its records. minOne lets the first non-empty
// partition return a whole batch larger than the limits (KIP-74), so an
// oversized batch cannot stall a consumer.
func (h *Handler) fetchPartition(topic string, rp kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, maxBytes int, minOne bool) (log.Section, error) {
	p, err := h.leaderPartition(topic, rp.Partition)
	if err != nil {
		return log.Section{}, err
	}
	logStart, hw, _ := p.Log.Offsets()
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, logStart
	if maxBytes <= 0 && !minOne {
		return log.Section{}, nil
	}
	sec, err := p.Log.ReadSection(rp.FetchOffset, max(maxBytes, 0), minOne)
	if errors.Is(err, log.ErrOffsetOutOfRange) {
		return log.Section{}, kerr.OffsetOutOfRange
	}
	return sec, err
}
