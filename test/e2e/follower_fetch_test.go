package e2e

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// Follower fetching (KIP-392) on three brokers in racks r1, r2 and r3
// with Kafka's RackAwareReplicaSelector: a consumer in r2 reads every
// partition from broker 2, whether broker 2 leads it or follows it.

// rackSelector turns follower fetching on, as in Kafka.
const rackSelector = "KAFKA_REPLICA_SELECTOR_CLASS=org.apache.kafka.common.replica.RackAwareReplicaSelector"

// fetchedFrom is a kgo hook that records which broker answered the
// batches of each partition.
type fetchedFrom struct {
	mu sync.Mutex // guards brokers
	// brokers maps partition to the brokers that returned its batches,
	// with the batch count of each.
	brokers map[int32]map[int32]int
}

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (f *fetchedFrom) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, partition int32, _ kgo.FetchBatchMetrics) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.brokers == nil {
		f.brokers = map[int32]map[int32]int{}
	}
	if f.brokers[partition] == nil {
		f.brokers[partition] = map[int32]int{}
	}
	f.brokers[partition][meta.NodeID]++
}

// snapshot returns a copy of what was recorded, as text.
func (f *fetchedFrom) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.brokers)
}

// TestClusterFollowerFetching: three brokers in racks r1, r2, r3 with
// the rack-aware replica selector, a topic of replication factor 3 whose
// partitions are led by each broker in turn. A franz-go consumer with
// client.rack r2 gets every record, every batch from broker 2 (the
// leaders of the other partitions send it there with
// PreferredReadReplica); so does kcat (librdkafka) with client.rack=r2.
// Brokers 1 and 3 serve no consumer bytes of the topic (their bytes out
// metric stays 0), broker 2 serves them all. With broker 2 stopped, out
// of the ISRs, the leaders keep the r2 consumer and serve it; once broker
// 2 is back in every ISR, it serves the rack again.
func TestClusterFollowerFetching(t *testing.T) {
	c := newCluster(t, rackSelector)
	hosts := make([]string, len(c.nodes))
	for i := range c.nodes {
		hosts[i] = nodeHost(i + 1)
	}
	httpPort := strconv.Itoa(sharedFreePorts(t, hosts, 1)[0])
	for i, b := range c.nodes {
		// Later entries win: the HTTP listener moves to a known port.
		b.Env = append(b.Env, "KAFKA_BROKER_RACK=r"+strconv.Itoa(i+1),
			"KAFKA_HTTP_LISTENERS="+net.JoinHostPort(hosts[i], httpPort))
	}
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)

	const topic, records = "near", 3000
	admin := clusterClient(t, c.seeds())
	createAssigned(ctx, t, admin, topic, [][]int32{{1, 2, 3}, {3, 1, 2}, {2, 3, 1}})
	leaders := c.waitAgreedLeaders(ctx, topic, 3)
	if leaders[0] == 2 && leaders[1] == 2 && leaders[2] == 2 {
		t.Fatalf("broker 2 leads every partition (%v): nothing to redirect", leaders)
	}
	prod := clusterClient(t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks()))
	sent := makeRecords(topic, records)
	produceAll(t, prod, sent)

	hook := consumeInRack(ctx, t, c, topic, "r2", sent)
	for p := range int32(3) {
		if from := hook.brokers[p]; len(from) != 1 || from[2] == 0 {
			t.Errorf("partition %d (led by %d): batches by broker %v, want all from broker 2", p, leaders[p], from)
		}
	}
	bytesOut := func() map[int32]float64 {
		out := map[int32]float64{}
		for i, host := range hosts {
			m := scrape(t, "http://"+net.JoinHostPort(host, httpPort))
			out[int32(i+1)] = m[`kafka_server_brokertopicmetrics_bytesout_total{topic="`+topic+`"}`]
		}
		return out
	}
	afterFranz := bytesOut()
	if afterFranz[1] != 0 || afterFranz[3] != 0 || afterFranz[2] == 0 {
		t.Errorf("consumer bytes out of %s by broker after the franz-go consumer: %v; want broker 2's alone", topic, afterFranz)
	}

	// librdkafka, seeded with broker 1, follows PreferredReadReplica too.
	out := kcat(t, c.nodes[0], nil, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
		"-X", "client.rack=r2", "-f", "%p %o\n")
	if n := strings.Count(out, "\n"); n != records {
		t.Errorf("kcat consumed %d records, want %d", n, records)
	}
	afterKcat := bytesOut()
	if afterKcat[1] != 0 || afterKcat[3] != 0 || afterKcat[2] < 2*afterFranz[2]*0.9 {
		t.Errorf("consumer bytes out of %s by broker after kcat: %v (after franz-go: %v); want broker 2's alone, twice",
			topic, afterKcat, afterFranz)
	}

	// Broker 2 stops and leaves the ISRs: the leaders keep the r2
	// consumer (a redirect to it would leave the consumer with nobody to
	// read from), which gets every record from them.
	two := c.node(2)
	two.Stop()
	waitISR(ctx, t, c, c.node(1), topic, func(isr []int32) bool { return !slices.Contains(isr, 2) })
	more := makeRecords(topic, records+records/3)[records:] // "i" headers continue sent's
	produceAll(t, prod, more)
	all := append(slices.Clone(sent), more...)
	hook = consumeInRack(ctx, t, c, topic, "r2", all)
	for p := range int32(3) {
		if from := hook.brokers[p]; from[2] != 0 {
			t.Errorf("partition %d: batches by broker %v with broker 2 stopped", p, from)
		}
	}

	// Back and in sync, broker 2 serves the rack again.
	two.Start()
	waitISR(ctx, t, c, c.node(1), topic, func(isr []int32) bool { return slices.Contains(isr, 2) })
	hook = consumeInRack(ctx, t, c, topic, "r2", all)
	for p := range int32(3) {
		if from := hook.brokers[p]; len(from) != 1 || from[2] == 0 {
			t.Errorf("partition %d after broker 2 rejoined the ISR: batches by broker %v, want all from broker 2", p, from)
		}
	}
}

// consumeInRack consumes topic from the start with a franz-go consumer
// in rack until it has as many records as sent, checks they are sent,
// and returns which brokers answered.
func consumeInRack(ctx context.Context, t *testing.T, c *cluster, topic, rack string, sent []*kgo.Record) *fetchedFrom {
	t.Helper()
	hook := &fetchedFrom{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.Rack(rack), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(hook))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []*kgo.Record
	for len(got) < len(sent) {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v; batches by partition and broker: %v", len(got), len(sent), err, hook)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch error %s[%d]: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	checkSame(t, sent, got)
	return hook
}

// waitISR waits until node b shows every partition of topic with an
// ISR for which in is true, and fails the test after a minute.
func waitISR(ctx context.Context, t *testing.T, c *cluster, b *Broker, topic string, in func(isr []int32) bool) {
	t.Helper()
	var last map[int32][]int32
	ok := testutil.WaitFor(time.Minute, func() bool {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(ctx, clusterAskMax)
		defer cancel()
		resp, err := req.RequestWith(ctx, c.ask(b))
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) == 0 {
			return false
		}
		last = map[int32][]int32{}
		all := true
		for _, p := range resp.Topics[0].Partitions {
			last[p.Partition] = p.ISR
			all = all && p.Leader >= 0 && in(p.ISR)
		}
		return all
	})
	if !ok {
		t.Fatalf("the ISRs of %s did not reach the expected state in a minute: %v", topic, last)
	}
}

// createAssigned creates topic with one partition per element of
// replicas, placed on those brokers (the first leads), through cl.
func createAssigned(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, replicas [][]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, rs := range replicas {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), rs
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Topics[0]; st.ErrorCode != 0 {
		msg := ""
		if st.ErrorMessage != nil {
			msg = *st.ErrorMessage
		}
		t.Fatalf("create %s: error %d %s", topic, st.ErrorCode, msg)
	}
}
