package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// epochRequests counts the OffsetForLeaderEpoch requests a client sends.
type epochRequests struct{ n atomic.Int64 }

func (r *epochRequests) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == kmsg.OffsetForLeaderEpoch.Int16() && err == nil {
		r.n.Add(1)
	}
}

// partitionEpoch returns the leader epoch Metadata gives for topic-0.
func partitionEpoch(t *testing.T, cl *kgo.Client, topic string) int32 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t, 10*time.Second), cl)
	if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) == 0 {
		t.Fatalf("metadata for %s: %v %+v", topic, err, resp)
	}
	return resp.Topics[0].Partitions[0].LeaderEpoch
}

// TestLeaderEpochAcrossRestart: a restart of a single node moves its
// partitions' leader epoch (the broker is fenced as it stops and leads
// again as it starts). A franz-go consumer that lives through it sees the
// epoch move, validates its position with OffsetForLeaderEpoch (KIP-320)
// and goes on consuming, with no error, no gap and no duplicate; the
// broker answers that request from its leader-epoch-checkpoint, in
// Kafka's format; and kcat (librdkafka) reads the whole topic.
func TestLeaderEpochAcrossRestart(t *testing.T) {
	const topic, half = "epochs", 500
	b := StartBroker(t)
	produce := func(recs []*kgo.Record) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		produceAll(t, cl, recs)
	}
	recs := makeRecords(topic, 2*half)
	produce(recs[:half])

	var hook epochRequests
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(&hook),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	consumeTo := func(n int) {
		t.Helper()
		ctx := testContext(t, time.Minute)
		for len(got) < n {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
			}
			fs.EachError(func(topic string, p int32, err error) {
				t.Fatalf("fetch %s[%d] after %d records: %v", topic, p, len(got), err)
			})
			got = append(got, fs.Records()...)
		}
	}
	consumeTo(half)
	before := partitionEpoch(t, cl, topic)
	// confluent-kafka (librdkafka) consumes through the restart too.
	py := startEpochsScript(t, b, topic, half, 2*half)

	b.Stop()
	b.Start()
	after := partitionEpoch(t, cl, topic)
	if after <= before {
		t.Fatalf("leader epoch %d after a restart, %d before: want it to grow", after, before)
	}
	produce(recs[half:])
	consumeTo(2 * half)
	checkSame(t, recs, got)
	if hook.n.Load() == 0 {
		t.Errorf("the consumer sent no OffsetForLeaderEpoch after the leader epoch moved from %d to %d", before, after)
	}

	// The broker's answers, and its file.
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	for _, epoch := range []int32{before, after} {
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = epoch, after
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t, 10*time.Second), cl)
	if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("OffsetForLeaderEpoch: %v %+v", err, resp)
	}
	for i, want := range []struct {
		epoch int32
		end   int64
	}{{before, half}, {after, 2 * half}} {
		sp := resp.Topics[0].Partitions[i]
		if sp.ErrorCode != 0 || sp.LeaderEpoch != want.epoch || sp.EndOffset != want.end {
			t.Errorf("OffsetForLeaderEpoch(%d): %v, epoch %d, end offset %d; want %d, %d",
				want.epoch, kerr.ErrorForCode(sp.ErrorCode), sp.LeaderEpoch, sp.EndOffset, want.epoch, want.end)
		}
	}
	file, err := os.ReadFile(filepath.Join(b.DataDir, topic+"-0", "leader-epoch-checkpoint"))
	if want := fmt.Sprintf("0\n2\n%d 0\n%d %d\n", before, after, half); err != nil || string(file) != want {
		t.Errorf("leader-epoch-checkpoint %q (%v), want %q", file, err, want)
	}

	py.check(t, 2*half)

	// kcat (librdkafka) reads the whole topic afterwards; the values are
	// binary, so it prints only the offsets.
	out := kcat(t, b, nil, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o\n")
	if n := strings.Count(out, "\n"); n != 2*half {
		t.Errorf("kcat read %d records, want %d", n, 2*half)
	}
}

// epochsScript is testdata/confluent_kafka_epochs.py running.
type epochsScript struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr strings.Builder
}

// startEpochsScript starts the script and waits until it has read first
// records; resume lets it read on to total.
func startEpochsScript(t *testing.T, b *Broker, topic string, first, total int) *epochsScript {
	t.Helper()
	requirePythonModule(t, "confluent_kafka")
	path, err := filepath.Abs(filepath.Join("testdata", "confluent_kafka_epochs.py"))
	if err != nil {
		t.Fatal(err)
	}
	s := &epochsScript{}
	s.cmd = exec.CommandContext(testContext(t, 2*time.Minute), pythonPath, "-B", path, b.Addr, topic, strconv.Itoa(first), strconv.Itoa(total))
	s.cmd.Stderr = &s.stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdout = bufio.NewReader(out)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	if line, err := s.stdout.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("confluent_kafka_epochs.py: %q, %v; stderr:\n%s", line, err, clip(s.stderr.String()))
	}
	return s
}

// check lets the script read on to total records and checks it read
// offsets 0 to total-1 in order, once each, with no message error.
func (s *epochsScript) check(t *testing.T, total int) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	line, err := s.stdout.ReadString('\n')
	var res struct {
		Offsets       []int64  `json:"offsets"`
		MessageErrors []string `json:"message_errors"`
		ClientErrors  []string `json:"client_errors"`
	}
	if err != nil || json.Unmarshal([]byte(line), &res) != nil {
		t.Fatalf("confluent_kafka_epochs.py printed %q (%v); stderr:\n%s", clip(line), err, clip(s.stderr.String()))
	}
	if len(res.Offsets) != total {
		t.Errorf("confluent-kafka read %d records, want %d", len(res.Offsets), total)
	}
	for i, o := range res.Offsets {
		if o != int64(i) {
			t.Errorf("confluent-kafka's record %d has offset %d", i, o)
			break
		}
	}
	if len(res.MessageErrors) != 0 {
		t.Errorf("confluent-kafka consumer errors: %v", res.MessageErrors)
	}
	t.Logf("confluent-kafka client errors while the broker restarted: %v", res.ClientErrors)
}
