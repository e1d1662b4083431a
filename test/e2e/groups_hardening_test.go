package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupsInternalTopic: clients cannot produce to __consumer_offsets
// (Kafka answers INVALID_TOPIC_EXCEPTION, "Cannot append to internal
// topic"); deleting it succeeds, as on Kafka's KRaft controller, and
// unloads the groups; the next commit creates it again, durably.
func TestGroupsInternalTopic(t *testing.T) {
	b := StartBroker(t, groupEnv...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic, group := "internal-check", "internal-check-group"
	createTopic(t, adm, topic, 1)
	commit := func(at int64) {
		t.Helper()
		offsets := kadm.Offsets{}
		offsets.AddOffset(topic, 0, at, -1)
		resp, err := adm.CommitOffsets(testContext(t, 10*time.Second), group, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", at, err)
		}
	}
	fetched := func() int64 {
		t.Helper()
		resp, err := adm.FetchOffsets(testContext(t, 10*time.Second), group)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := resp.Lookup(topic, 0); ok {
			return o.At
		}
		return -1
	}
	commit(5)

	err = cl.ProduceSync(testContext(t, 10*time.Second), &kgo.Record{Topic: "__consumer_offsets", Value: []byte("forged")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to __consumer_offsets: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
	if got := fetched(); got != 5 {
		t.Fatalf("committed offset %d after the refused produce, want 5", got)
	}

	resp, err := adm.DeleteTopics(testContext(t, 10*time.Second), "__consumer_offsets")
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete __consumer_offsets: %v (Kafka's controller deletes it)", err)
	}
	if got := fetched(); got != -1 {
		t.Fatalf("committed offset %d after the offsets topic was deleted, want none", got)
	}
	commit(9)
	b.Stop()
	b.Start()
	if got := fetched(); got != 9 {
		t.Fatalf("committed offset %d after a restart, want 9 from the re-created offsets topic", got)
	}
}
