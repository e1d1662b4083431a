package e2e

// Kafka Streams against Sluice: test/java/src's WordCount, at-least-once.

import (
	"context"
	byteorder "encoding/binary"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// javaWordCount is WordCount's main class.
const javaWordCount = "dev.sluice.test.WordCount"

// wordCountTimeout bounds how long the test waits for the final counts:
// Streams joins its group, creates its internal topics and processes.
const wordCountTimeout = 90 * time.Second

// TestJavaStreamsWordCount runs a Kafka Streams 4.4 WordCount topology
// (flatMap, groupBy through a repartition topic, count in a RocksDB store
// backed by a compacted changelog topic) at-least-once against Sluice:
// the last count of every word on the output topic is exactly its count
// in the input, the internal topics exist with Streams' configs, and
// Streams closes cleanly.
func TestJavaStreamsWordCount(t *testing.T) {
	start := time.Now()
	b := javaBroker(t)
	java, _ := javaClasspath(t)
	cp := javaProgramClasspath(t)
	const app, input, output = "wc-app", "wc-input", "wc-output"
	adm := javaAdmin(t, b)
	createTopic(t, adm, input, 2)
	createTopic(t, adm, output, 1)

	// 300 lines over a small vocabulary, so every word is counted many
	// times and across both input partitions.
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}
	want := map[string]int64{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DefaultProduceTopic(input))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var recs []*kgo.Record
	for i := range 300 {
		var line []string
		for j := range 1 + i%5 {
			w := words[(i*3+j*5)%len(words)]
			if j%2 == 1 {
				w = strings.ToUpper(w) // WordCount lower-cases
			}
			line = append(line, w)
			want[strings.ToLower(w)]++
		}
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "line-%d", i), Value: []byte(strings.Join(line, " ,"))})
	}
	if err := cl.ProduceSync(testContext(t, 20*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wordCountTimeout+30*time.Second)
	defer cancel()
	argv := append(append([]string{}, javaJVMFlags...), "-cp", cp, javaWordCount, b.Addr, app, t.TempDir(), input, output)
	cmd := exec.CommandContext(ctx, java, argv...)
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out := &boundedBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	got := readWordCounts(t, b, output, want, exited, out)
	for w, n := range want {
		if got[w] != n {
			t.Errorf("word %q: last count %d, want %d", w, got[w], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counted words %v, want %v", got, want)
	}

	// Streams' internal topics: the repartition topic of groupBy and the
	// compacted changelog of the store.
	changelog, repartition := app+"-counts-changelog", app+"-by-word-repartition"
	configs, err := adm.DescribeTopicConfigs(testContext(t, 10*time.Second), changelog, repartition)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range configs {
		if rc.Err != nil {
			t.Errorf("internal topic %s: %v", rc.Name, rc.Err)
			continue
		}
		wantPolicy := map[string]string{changelog: "compact", repartition: "delete"}[rc.Name]
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != wantPolicy) {
				t.Errorf("internal topic %s: cleanup.policy %v, want %s", rc.Name, c.MaybeValue(), wantPolicy)
			}
		}
	}

	stdin.Close() // WordCount closes its topology and exits
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("WordCount exited with %v after its input closed:\n%s", err, clip(out.String()))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("WordCount did not exit within 30 s of its input closing:\n%s", clip(out.String()))
	}
	if testing.Verbose() {
		t.Logf("WordCount printed:\n%s", clip(out.String()))
	}
	t.Logf("wall time %v", time.Since(start).Round(time.Millisecond))
}

// readWordCounts consumes the output topic from the start, keeping the
// last count of each word, until every word of want has its count (or a
// larger one: at-least-once without a failure must not count twice, which
// the caller checks), the Streams process exits, or wordCountTimeout.
func readWordCounts(t *testing.T, b *Broker, topic string, want map[string]int64, exited chan error, out *boundedBuffer) map[string]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wordCountTimeout)
	defer cancel()
	got := map[string]int64{}
	done := func() bool {
		for w, n := range want {
			if got[w] < n {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("WordCount exited (%v) before the counts were complete (%v):\n%s", err, got, clip(out.String()))
		default:
		}
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after %v the counts are %v, want %v; WordCount printed:\n%s", wordCountTimeout, got, want, clip(out.String()))
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("consume %s-%d: %v", topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != 8 {
				t.Fatalf("output record %q has a %d-byte value, want a long", r.Key, len(r.Value))
			}
			got[string(r.Key)] = int64(byteorder.BigEndian.Uint64(r.Value))
		})
	}
	return got
}
