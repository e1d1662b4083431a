package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/kclient"
)

const (
	benchDialTimeout  = 5 * time.Second
	benchAdminTimeout = 30 * time.Second // one admin request, retries included
	benchLeaderWait   = 10 * time.Second // for a created topic's partitions to get leaders
)

// compressionCodec is the codec named by --compression.
func compressionCodec(name string) (kgo.CompressionCodec, error) {
	codec, ok := kclient.Compression(name)
	if !ok {
		return kgo.CompressionCodec{}, fmt.Errorf("--compression %q is not none, gzip, snappy, lz4 or zstd", name)
	}
	return codec, nil
}

// clientConfig is the connection every client of a run shares; id tells
// the clients apart in the broker's logs.
func (o *benchOptions) clientConfig(id string) kclient.Config {
	return kclient.Config{Seeds: o.seedBrokers(), ClientID: "sluice-bench-" + id, DialTimeout: benchDialTimeout, Security: o.security}
}

// producerOptions configures a producer client from the flags, on top of
// clientConfig.
func (o *benchOptions) producerOptions() []kgo.Opt {
	codec, _ := compressionCodec(o.compression) // validated
	acks, _ := kclient.Acks(o.acks)             // validated
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(o.topic),
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchMaxBytes(int32(o.batchMaxBytes)),
		kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedBytes(o.bufferBytes),
		// Records are bounded by bytes; the count limit only has to stay
		// out of the way of small records.
		kgo.MaxBufferedRecords(max(o.bufferBytes/o.recordSize, 1)),
		kgo.RecordDeliveryTimeout(o.timeout),
		kgo.RequiredAcks(acks),
	}
	if !o.idempotent {
		// kgo refuses the in-flight setting for an idempotent producer,
		// which always keeps 5 requests in flight as Kafka allows.
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(o.maxInflight))
	}
	return opts
}

// checkReachable dials the seed brokers so that a wrong address fails in
// seconds with the dial error, rather than after kgo's retries.
func (o *benchOptions) checkReachable(ctx context.Context) error {
	var firstErr error
	for _, seed := range o.seedBrokers() {
		d := net.Dialer{Timeout: benchDialTimeout}
		conn, err := d.DialContext(ctx, "tcp", seed)
		if err == nil {
			conn.Close()
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return fmt.Errorf("cannot reach a broker at %s: %w", o.brokers, firstErr)
}

// topicPartitions returns the partitions of the topic, creating it with
// --partitions when create is set and it does not exist.
func (o *benchOptions) topicPartitions(ctx context.Context, adm *kadm.Client, create bool, warn func(string, ...any)) ([]int32, error) {
	parts, err := describeTopic(ctx, adm, o.topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) && create {
		actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
		defer cancel()
		_, err = adm.CreateTopic(actx, o.partitions, o.replicationFactor, nil, o.topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("cannot create topic %q: %w", o.topic, err)
		}
		parts, err = waitForLeaders(ctx, adm, o.topic)
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("topic %q does not exist: produce to it first (sluice bench produce --topic %s)", o.topic, o.topic)
	}
	if err != nil {
		return nil, err
	}
	if create && int32(len(parts)) != o.partitions {
		warn("topic %q already exists with %d partitions; using them, not --partitions %d", o.topic, len(parts), o.partitions)
	}
	return parts, nil
}

// describeTopic returns the sorted partition ids of topic, or an error
// wrapping kerr.UnknownTopicOrPartition when it does not exist, or another
// error when a partition has no leader yet.
func describeTopic(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
	defer cancel()
	details, err := adm.ListTopics(actx, topic)
	if err != nil {
		return nil, fmt.Errorf("the broker did not answer a Metadata request: %w", err)
	}
	d, ok := details[topic]
	if !ok {
		return nil, fmt.Errorf("metadata for %q: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if d.Err != nil {
		return nil, fmt.Errorf("metadata for %q: %w", topic, d.Err)
	}
	var parts []int32
	for p, pd := range d.Partitions {
		if pd.Err != nil || pd.Leader < 0 {
			return nil, fmt.Errorf("partition %d of %q has no leader (%v)", p, topic, pd.Err)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("metadata for %q lists no partitions", topic)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	return parts, nil
}

// waitForLeaders polls Metadata until a just-created topic has a leader
// for every partition, for at most benchLeaderWait.
func waitForLeaders(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	deadline := time.Now().Add(benchLeaderWait)
	for {
		parts, err := describeTopic(ctx, adm, topic)
		if err == nil || time.Now().After(deadline) {
			return parts, err
		}
		if !sleepContext(ctx, 100*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// listOffsets returns the start or end offset of every partition.
func listOffsets(ctx context.Context, adm *kadm.Client, topic string, end bool) (map[int32]int64, error) {
	actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
	defer cancel()
	list, which := adm.ListStartOffsets, "start"
	if end {
		list, which = adm.ListEndOffsets, "end"
	}
	listed, err := list(actx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list the %s offsets of %q: %w", which, topic, err)
	}
	offsets := map[int32]int64{}
	listed.Each(func(l kadm.ListedOffset) { offsets[l.Partition] = l.Offset })
	return offsets, nil
}

// sleepContext sleeps for d and reports whether ctx is still live.
func sleepContext(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
