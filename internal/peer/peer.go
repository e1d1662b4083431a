// Package peer is how a broker reaches the other brokers' Kafka
// listeners: the replica fetchers' transport (replica.Transport), which
// sends Kafka's replica Fetch (v12+, ReplicaState from v15) with franz-go.
// It turns replica's fetch into kmsg and back, so replica stays off the
// wire; it holds no state beyond its connections.
//
// Each fetcher opens its own client, seeded with the leader's endpoint of
// the inter-broker listener (the first one a broker registered) as the
// current metadata image has it, and sends to the leader by its broker id,
// so a seed that turned out to be another broker is never fetched from.
// A fetch that fails closes the client; the fetcher opens a new one,
// which looks the endpoint up again (a restarted leader may have moved).
package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/replica"
)

// fetchVersionMin is the oldest Fetch a follower accepts: v12 brings
// LastFetchedEpoch and DivergingEpoch (KIP-595), without which a follower
// cannot find where its log diverges during the fetch.
const fetchVersionMin = 12

// Config is what the transport needs from the broker.
type Config struct {
	NodeID int32
	// Image returns the current metadata image, where the leaders'
	// endpoints are.
	Image func() *metadata.Image
	// Listener names the inter-broker listener; empty is each broker's
	// first registered endpoint.
	Listener string
	// DialTimeout bounds a connection attempt.
	DialTimeout time.Duration
}

// Transport is replica.Transport over franz-go.
type Transport struct {
	cfg Config
}

// New returns a transport.
func New(cfg Config) *Transport {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	return &Transport{cfg: cfg}
}

// Open returns a connection to leader for one fetcher.
func (t *Transport) Open(leader int32) (replica.FetchConn, error) {
	e, ok := t.cfg.Image().Endpoint(leader, t.cfg.Listener)
	if !ok {
		return nil, fmt.Errorf("broker %d has no live endpoint in the metadata", leader)
	}
	minVersions := new(kversion.Versions)
	minVersions.SetMaxKeyVersion(kmsg.Fetch.Int16(), fetchVersionMin)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))),
		kgo.ClientID("sluice-replica-fetcher-"+strconv.Itoa(int(t.cfg.NodeID))),
		kgo.MinVersions(minVersions),
		kgo.DialTimeout(t.cfg.DialTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("client for broker %d at %s:%d: %w", leader, e.Host, e.Port, err)
	}
	return &conn{cl: cl, leader: leader}, nil
}

// conn is one fetcher's client.
type conn struct {
	cl     *kgo.Client
	leader int32
}

// Close closes the client and its connections.
func (c *conn) Close() { c.cl.Close() }

// Fetch sends one replica fetch to the leader.
func (c *conn) Fetch(ctx context.Context, req *replica.FetchRequest) (*replica.FetchResponse, error) {
	kreq, names := toKafka(req)
	kresp, err := c.cl.Broker(int(c.leader)).Request(ctx, kreq)
	if err != nil {
		return nil, err
	}
	resp, ok := kresp.(*kmsg.FetchResponse)
	if !ok {
		return nil, fmt.Errorf("broker %d answered a fetch with %T", c.leader, kresp)
	}
	return fromKafka(resp, names)
}

// toKafka builds the Kafka request, and the topic names by id that a
// v13+ answer needs (it names topics by id only).
func toKafka(req *replica.FetchRequest) (*kmsg.FetchRequest, map[metadata.TopicID]string) {
	kreq := kmsg.NewPtrFetchRequest()
	kreq.ReplicaID = req.ReplicaID
	kreq.ReplicaState.ID = req.ReplicaID
	kreq.ReplicaState.Epoch = req.BrokerEpoch
	kreq.MaxWaitMillis = int32(req.MaxWait.Milliseconds())
	kreq.MinBytes = req.MinBytes
	kreq.MaxBytes = req.MaxBytes
	kreq.IsolationLevel = 0 // a replica reads uncommitted records too
	kreq.SessionID, kreq.SessionEpoch = 0, -1
	names := map[metadata.TopicID]string{}
	index := map[string]int{}
	for _, p := range req.Partitions {
		i, ok := index[p.Topic]
		if !ok {
			i = len(kreq.Topics)
			index[p.Topic] = i
			names[p.TopicID] = p.Topic
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = p.Topic, p.TopicID
			kreq.Topics = append(kreq.Topics, t)
		}
		kp := kmsg.NewFetchRequestTopicPartition()
		kp.Partition = p.Partition
		kp.CurrentLeaderEpoch = p.CurrentLeaderEpoch
		kp.FetchOffset = p.FetchOffset
		kp.LastFetchedEpoch = p.LastFetchedEpoch
		kp.LogStartOffset = p.LogStartOffset
		kp.PartitionMaxBytes = p.MaxBytes
		kreq.Topics[i].Partitions = append(kreq.Topics[i].Partitions, kp)
	}
	return kreq, names
}

// fromKafka reads the Kafka answer. A top-level error fails the whole
// fetch, as it carries no partitions.
func fromKafka(resp *kmsg.FetchResponse, names map[metadata.TopicID]string) (*replica.FetchResponse, error) {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch refused: %w", err)
	}
	out := &replica.FetchResponse{}
	for _, t := range resp.Topics {
		name := t.Topic
		if resp.Version >= 13 {
			var ok bool
			if name, ok = names[t.TopicID]; !ok {
				return nil, errors.New("fetch answer names a topic id that was not asked for")
			}
		}
		for _, p := range t.Partitions {
			fp := replica.FetchedPartition{
				Topic: name, Partition: p.Partition, Err: kerr.ErrorForCode(p.ErrorCode),
				HighWatermark: p.HighWatermark, LogStartOffset: p.LogStartOffset,
				DivergingEpoch: -1, DivergingEndOffset: -1, Records: p.RecordBatches,
			}
			if d := p.DivergingEpoch; d.Epoch >= 0 && d.EndOffset >= 0 {
				fp.DivergingEpoch, fp.DivergingEndOffset = d.Epoch, d.EndOffset
			}
			out.Partitions = append(out.Partitions, fp)
		}
	}
	return out, nil
}
