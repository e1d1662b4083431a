package replica

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
)

// testNode is the broker the tests' Manager runs as.
const testNode int32 = 1

// testCluster is a Manager over a temporary dir and an image the test
// changes at will.
type testCluster struct {
	t     *testing.T
	m     *Manager
	image atomic.Pointer[metadata.Image]
	// logConfig is the config every partition's log gets.
	logConfig log.Config
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	c := &testCluster{t: t, logConfig: log.DefaultConfig()}
	c.image.Store(&metadata.Image{Topics: map[string]*metadata.Topic{}})
	c.m = c.newManager(t.TempDir())
	t.Cleanup(func() {
		if err := c.m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// newManager is a Manager over dir reading the test's image.
func (c *testCluster) newManager(dir string) *Manager {
	c.t.Helper()
	m, err := NewManager(Config{
		Dirs: []string{dir}, NodeID: testNode, Image: c.image.Load,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// reopen stops the Manager and starts a new one over the same dir,
// reconciled with the current image. A clean restart closes the
// Manager; an unclean one only closes its logs, as a crash after the
// last checkpoint leaves them: the dir is not marked clean and nothing
// is checkpointed.
func (c *testCluster) reopen(clean bool) {
	c.t.Helper()
	if clean {
		if err := c.m.Close(); err != nil {
			c.t.Fatal(err)
		}
	} else {
		c.m.Each(func(p *Partition) { p.close() })
	}
	c.m = c.newManager(c.m.dirs[0])
	c.reconcile()
}

// setTopic puts a topic whose partitions are all led by leader at epoch
// into the image, without reconciling.
func (c *testCluster) setTopic(name string, id byte, partitions, leader, epoch int32) {
	t := &metadata.Topic{Name: name, ID: metadata.TopicID{id}, Partitions: partitions}
	for range partitions {
		t.Assignments = append(t.Assignments, metadata.Partition{
			Replicas: []int32{leader}, ISR: []int32{leader}, Leader: leader, LeaderEpoch: epoch})
	}
	old := c.image.Load()
	next := &metadata.Image{Topics: map[string]*metadata.Topic{}}
	for n, ot := range old.Topics {
		next.Topics[n] = ot
	}
	next.Topics[name] = t
	c.image.Store(next)
}

// deleteTopic removes a topic from the image, without reconciling.
func (c *testCluster) deleteTopic(name string) {
	next := &metadata.Image{Topics: map[string]*metadata.Topic{}}
	for n, ot := range c.image.Load().Topics {
		if n != name {
			next.Topics[n] = ot
		}
	}
	c.image.Store(next)
}

func (c *testCluster) reconcile() {
	c.t.Helper()
	err := c.m.Reconcile(c.image.Load(), testNode, func(*metadata.Topic) log.Config { return c.logConfig })
	if err != nil {
		c.t.Fatal(err)
	}
}

// partition creates topic "t" with one partition led here at epoch, and
// returns it opened.
func (c *testCluster) partition(epoch int32) *Partition {
	c.t.Helper()
	c.setTopic("t", 1, 1, testNode, epoch)
	c.reconcile()
	p, err := c.m.Leader("t", 0)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// testBatch builds a batch of n records as a client would send it: no
// partition leader epoch, base offset 0. producerID -1 is a producer
// without idempotence.
func testBatch(t *testing.T, n int, producerID int64, baseSequence int32) []byte {
	t.Helper()
	h := record.Header{ProducerID: producerID, ProducerEpoch: 0, BaseSequence: baseSequence,
		PartitionLeaderEpoch: -1, BaseTimestamp: 1000, LastOffsetDelta: int32(n - 1)}
	if producerID < 0 {
		h.ProducerEpoch, h.BaseSequence = -1, -1
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte{byte(i)}, Value: []byte("value")}
	}
	b, err := record.Build(h, recs, record.CodecNone, 1000+int64(n-1))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appendOptions are the options of a topic with Kafka's defaults.
func appendOptions() AppendOptions {
	return AppendOptions{MaxMessageBytes: 1 << 20, Now: 1000}
}
