package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestClusterFollowersCopyTheLog: three brokers, a topic of replication
// factor 3. Every follower fetches its partitions from their leaders
// (replica Fetch through internal/peer), so after an acks=all produce
// every broker holds the same bytes of every partition; and when a
// leader stops, the partition it led is read in full from the broker
// that takes over.
func TestClusterFollowersCopyTheLog(t *testing.T) {
	c := newCluster(t)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)

	const topic, partitions, records = "replicated", 3, 20_000
	adm := kadm.NewClient(clusterClient(t, c.seeds()))
	resp, err := adm.CreateTopic(ctx, partitions, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	leaders := c.waitAgreedLeaders(ctx, topic, partitions)

	prod := clusterClient(t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks()))
	sent := makeRecords(topic, records)
	produceAll(t, prod, sent)

	// Every replica's copy of every partition reaches the same size.
	waitSameSizes(ctx, t, c, adm, topic, partitions, leaders)

	// The leader of partition 0 stops; another replica leads and serves
	// every record.
	stopped := c.node(leaders[0])
	ts := time.Now()
	stopped.Stop()
	t.Logf("stop: %v", time.Since(ts))
	rest := c.others(stopped)
	ok := testutil.WaitFor(time.Minute, func() bool {
		now, err := partitionLeaders(ctx, c.ask(rest[0]), topic)
		return err == nil && now[0] >= 0 && now[0] != leaders[0]
	})
	if !ok {
		t.Fatalf("no new leader for %s[0] after broker %d stopped", topic, leaders[0])
	}
	checkSame(t, sent, consumeN(t, rest[0].Addr, topic, len(sent)))

	// More records while it is down; back, it follows again (from its
	// recovered log end, with its last epoch) and catches up.
	more := makeRecords(topic, records/4)
	t0 := time.Now()
	produceAll(t, prod, more)
	t.Logf("produce while down: %v", time.Since(t0))
	stopped.Start()
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	t.Logf("restart: %v", time.Since(t0))
	now, err := partitionLeaders(ctx, c.ask(rest[0]), topic)
	if err != nil {
		t.Fatal(err)
	}
	waitSameSizes(ctx, t, c, adm, topic, partitions, now)
	t.Logf("caught up: %v", time.Since(t0))
}

// waitSameSizes waits until every broker's copy of every partition of
// topic has the size of its leader's copy, and fails the test after a
// minute.
func waitSameSizes(ctx context.Context, t *testing.T, c *cluster, adm *kadm.Client, topic string, partitions int32, leaders map[int32]int32) {
	t.Helper()
	var sizes map[int32]map[int32]int64
	same := testutil.WaitFor(time.Minute, func() bool {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			return false
		}
		sizes = map[int32]map[int32]int64{}
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic != topic {
					return
				}
				if sizes[p.Partition] == nil {
					sizes[p.Partition] = map[int32]int64{}
				}
				sizes[p.Partition][d.Broker] = p.Size
			})
		})
		for p := range partitions {
			if len(sizes[p]) != len(c.nodes) {
				return false
			}
			for _, size := range sizes[p] {
				if size == 0 || size != sizes[p][leaders[p]] {
					return false
				}
			}
		}
		return true
	})
	if !same {
		t.Fatalf("replicas of %s did not reach the leaders' sizes in a minute: %v (leaders %v)", topic, sizes, leaders)
	}
}
