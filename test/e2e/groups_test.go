package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// groupEnv makes groups fast to test: no initial rebalance delay and
// session timeouts down to one second.
var groupEnv = []string{
	"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
	"KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS=1000",
	"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=5",
}

// killableDialer dials normally until killed; then it refuses and closes
// every connection it made, so the client vanishes without a LeaveGroup.
type killableDialer struct {
	mu     sync.Mutex
	dead   bool
	conns  []net.Conn
	dialer net.Dialer
}

func (d *killableDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("killed")
	}
	c, err := d.dialer.DialContext(ctx, network, addr)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *killableDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
}

// seenRecords counts consumed records by partition and offset.
type seenRecords struct {
	mu   sync.Mutex
	seen map[[2]int64]bool
}

func (s *seenRecords) add(rs []*kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.seen[[2]int64{int64(r.Partition), r.Offset}] = true
	}
}

func (s *seenRecords) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t, 10*time.Second), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}

func produceN(t *testing.T, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
	}
	if err := cl.ProduceSync(testContext(t, 20*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestGroupsFailover: three franz-go consumers share a 12-partition topic;
// one dies without leaving; its partitions move to the others within the
// session timeout and every record is consumed. With cooperative-sticky,
// the survivors' partitions are never revoked.
func TestGroupsFailover(t *testing.T) {
	b := StartBroker(t, groupEnv...)
	for _, tc := range []struct {
		name        string
		balancer    kgo.GroupBalancer
		cooperative bool
	}{
		{"cooperative-sticky", kgo.CooperativeStickyBalancer(), true},
		{"range", kgo.RangeBalancer(), false},
	} {
		t.Run(tc.name, func(t *testing.T) { groupsFailover(t, b, tc.name, tc.balancer, tc.cooperative) })
	}
}

func groupsFailover(t *testing.T, b *Broker, name string, balancer kgo.GroupBalancer, cooperative bool) {
	topic, group := "failover-"+name, "g-"+name
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	adm := kadm.NewClient(prod)
	createTopic(t, adm, topic, 12)

	seen := &seenRecords{seen: map[[2]int64]bool{}}
	var killed atomic.Bool
	var revokedAfterKill atomic.Int64
	dialers := make([]*killableDialer, 3)
	clients := make([]*kgo.Client, 3)
	var wg sync.WaitGroup
	for i := range clients {
		dialers[i] = &killableDialer{}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(balancer), kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Dialer(dialers[i].DialContext),
			kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				if i < 2 && killed.Load() {
					revokedAfterKill.Add(int64(len(m[topic])))
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = cl
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fs := cl.PollFetches(context.Background())
				if fs.IsClientClosed() {
					return
				}
				if i == 2 && killed.Load() {
					continue // a dead consumer processes nothing
				}
				seen.add(fs.Records())
			}
		}()
	}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
		wg.Wait()
	}()
	testutil.Eventually(t, 20*time.Second, "three members sharing 12 partitions", func() bool {
		return assignedCounts(t, adm, group, topic) == [3]int{4, 4, 4}
	})
	produceN(t, prod, topic, 0, 600)
	testutil.Eventually(t, 20*time.Second, "600 records consumed by three members", func() bool { return seen.count() == 600 })

	killed.Store(true)
	dialers[2].kill()
	start := time.Now()
	produceN(t, prod, topic, 600, 600)
	testutil.Eventually(t, 15*time.Second, "1200 records consumed after a member died", func() bool { return seen.count() == 1200 })
	took := time.Since(start)
	t.Logf("%s: the dead member's partitions were consumed by the others %v after it died", name, took)

	testutil.Eventually(t, 10*time.Second, "two members holding all 12 partitions", func() bool {
		c := assignedCounts(t, adm, group, topic)
		return c[0] == 0 && c[1]+c[2] == 12
	})
	if cooperative && revokedAfterKill.Load() != 0 {
		t.Errorf("cooperative-sticky revoked %d partitions of the surviving members", revokedAfterKill.Load())
	}
}

// assignedCounts returns how many partitions of topic each of the first
// three members of a Stable group holds, sorted; zeros otherwise.
func assignedCounts(t *testing.T, adm *kadm.Client, group, topic string) [3]int {
	var out [3]int
	groups, err := adm.DescribeGroups(testContext(t, 5*time.Second), group)
	if err != nil || groups[group].State != "Stable" || len(groups[group].Members) > 3 {
		return out
	}
	var counts []int
	for _, m := range groups[group].Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			return out
		}
		n := 0
		for _, at := range a.Topics {
			if at.Topic == topic {
				n += len(at.Partitions)
			}
		}
		counts = append(counts, n)
	}
	slices.Sort(counts)
	copy(out[3-len(counts):], counts)
	return out
}

// TestGroupsOffsetsSurviveRestart: committed offsets come back after a
// broker restart and a group resumes from them; kadm's lag works.
func TestGroupsOffsetsSurviveRestart(t *testing.T) {
	b := StartBroker(t, groupEnv...)
	topic, group := "resume", "resume-group"
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	createTopic(t, kadm.NewClient(prod), topic, 3)
	produceN(t, prod, topic, 0, 100)
	prod.Close()

	consume := func(want int) []*kgo.Record {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var got []*kgo.Record
		ctx := testContext(t, 20*time.Second)
		for len(got) < want {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d: %v", len(got), want, err)
			}
			got = append(got, fs.Records()...)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := consume(100); len(got) != 100 {
		t.Fatalf("consumed %d, want 100", len(got))
	}

	b.Stop()
	b.Start()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	offsets, err := adm.FetchOffsets(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 100 {
		t.Fatalf("committed offsets after restart sum to %d, want 100", committed)
	}
	produceN(t, cl, topic, 100, 30)
	lag, err := adm.Lag(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if total := lag[group].Lag.Total(); total != 30 {
		t.Fatalf("lag %d, want 30", total)
	}
	got := consume(30)
	for _, r := range got {
		if string(r.Value) < "100" && len(r.Value) < 3 {
			t.Fatalf("record %s consumed again after resuming from committed offsets", r.Value)
		}
	}
	if len(got) != 30 {
		t.Fatalf("resumed consumer got %d records, want 30", len(got))
	}
}
