package e2e

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestCrashKeepsAcknowledgedRecords kills the broker with SIGKILL while an
// idempotent acks=all producer is writing, restarts it, and checks that
// every acknowledged record is there exactly once, in order, at the offset
// it was acknowledged with.
func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	b := StartBroker(t)
	const topic = "crash"
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(adm).CreateTopic(testContext(t, 30*time.Second), 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	adm.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond), kgo.RecordRetries(3))
	if err != nil {
		t.Fatal(err)
	}
	type ack struct {
		partition int32
		offset    int64
	}
	var mu sync.Mutex
	acked := map[string]ack{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5_000_000 && ctx.Err() == nil; i++ {
			v := strconv.Itoa(i)
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[v] = ack{r.Partition, r.Offset}
					mu.Unlock()
				}
			})
		}
	}()
	// Let acknowledgements accumulate, then crash mid-stream.
	// The crash comes after 20s even if fewer were acknowledged by then.
	testutil.WaitFor(20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20_000
	})
	b.Kill()
	cancel()
	cl.Close() // fails what is still buffered
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the crash")
	}
	t.Logf("%d records acknowledged before SIGKILL", len(acked))

	b.Start()
	end := listEnd(t, b.Addr, topic)
	var total int64
	for _, e := range end {
		total += e
	}
	got := consumeN(t, b.Addr, topic, int(total))
	seen := map[string]bool{}
	for _, r := range got {
		v := string(r.Value)
		if seen[v] {
			t.Fatalf("record %s appears twice after recovery", v)
		}
		seen[v] = true
		if a, ok := acked[v]; ok && (a.partition != r.Partition || a.offset != r.Offset) {
			t.Fatalf("record %s acknowledged at %d/%d, found at %d/%d", v, a.partition, a.offset, r.Partition, r.Offset)
		}
	}
	for v := range acked {
		if !seen[v] {
			t.Fatalf("acknowledged record %s is missing after recovery", v)
		}
	}
}

// listEnd returns the end offset of every partition of topic.
func listEnd(t *testing.T, addr, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).ListEndOffsets(testContext(t, 30*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("list offsets %s[%d]: %v", o.Topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}
