// Package metrics keeps the broker's Prometheus metrics under the names
// Kafka dashboards expect (the names the JMX exporter gives Kafka's MBeans,
// and kafka_exporter's consumer group names).
//
// Two kinds of metric live here. Counters on the request path (messages
// and bytes per topic, requests and their latency per API) are plain
// atomic adds into structures found once per request, and are turned into
// Prometheus samples only on scrape. Everything that describes state
// (partition count, log sizes, offsets, consumer group lag) is read from
// the broker when scraped, through a Source, so it costs nothing between
// scrapes and is never stale.
//
// Every method of *Metrics is safe on a nil receiver, so code and tests
// that run without metrics pass nil.
package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiKeysMax bounds the request metrics array: one slot per Kafka API key
// kmsg knows. The server refuses other keys before they are counted.
const apiKeysMax = int(kmsg.MaxKey) + 1

// Metrics is one broker's metrics.
type Metrics struct {
	registry *prometheus.Registry
	started  time.Time

	// topics maps a topic name to its *topicCounters. Entries are added on
	// a topic's first produce or fetch and dropped on scrape once the
	// topic no longer exists.
	topics sync.Map

	requests [apiKeysMax]requestCounters // by API key

	// isrShrinks and isrExpands count the ISR changes of partitions this
	// broker leads, as it observes them in metadata images (ISRChanged).
	isrShrinks, isrExpands atomic.Int64

	source atomic.Pointer[sourceBox] // nil until the broker is ready
	// logFiles reads the segment file cache on scrape (SetLogFiles).
	logFiles atomic.Pointer[logFilesBox]

	connections connectionCounters
}

// topicCounters are Kafka's BrokerTopicMetrics for one topic.
type topicCounters struct {
	messagesIn atomic.Int64
	bytesIn    atomic.Int64
	bytesOut   atomic.Int64
	produces   atomic.Int64 // produce requests naming the topic
	fetches    atomic.Int64 // fetch responses carrying the topic
}

// sourceBox lets an interface value sit in an atomic.Pointer.
type sourceBox struct{ Source }

// New returns metrics with a fresh registry holding the Go runtime and
// process collectors and the broker's own.
func New() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry(), started: time.Now()}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		(*countersCollector)(m),
		(*stateCollector)(m),
		logFilesCollector{&m.logFiles},
	)
	m.registry.MustRegister(storageGauges()...)
	m.registry.MustRegister(m.connectionGauges()...)
	return m
}

// Registry returns the registry to serve on /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// SetSource installs what state metrics are read from on scrape; until it
// is set they are absent.
func (m *Metrics) SetSource(s Source) {
	if m == nil {
		return
	}
	m.source.Store(&sourceBox{s})
}

func (m *Metrics) sourceOrNil() Source {
	if box := m.source.Load(); box != nil {
		return box.Source
	}
	return nil
}

// counters returns a topic's counters, creating them on first use.
func (m *Metrics) counters(topic string) *topicCounters {
	if c, ok := m.topics.Load(topic); ok {
		return c.(*topicCounters)
	}
	c, _ := m.topics.LoadOrStore(topic, &topicCounters{})
	return c.(*topicCounters)
}

// Produced counts one produce request's appends to one topic: call it once
// per topic per request, with the records and batch bytes appended. Only
// existing topics may be named, or a client could grow the map with
// made-up names.
func (m *Metrics) Produced(topic string, messages, bytes int64) {
	if m == nil {
		return
	}
	c := m.counters(topic)
	c.produces.Add(1)
	if messages > 0 {
		c.messagesIn.Add(messages)
		c.bytesIn.Add(bytes)
	}
}

// Fetched counts the record bytes one fetch response carries for one
// existing topic: call it once per topic per response.
func (m *Metrics) Fetched(topic string, bytes int64) {
	if m == nil {
		return
	}
	c := m.counters(topic)
	c.fetches.Add(1)
	if bytes > 0 {
		c.bytesOut.Add(bytes)
	}
}

// Request records one request of the given API key, answered in elapsed
// (from decoding to the response being handed to the socket).
func (m *Metrics) Request(key int16, elapsed time.Duration) {
	if m == nil {
		return
	}
	i := int(key)
	if i < 0 || i >= apiKeysMax {
		return // the server refuses keys it does not know before this
	}
	m.requests[i].observe(elapsed)
}

// ISRChanged counts ISR changes of partitions this broker leads:
// shrinks (members left) and expands (members joined), one per partition
// per observed change, as Kafka's leader marks IsrShrinksPerSec and
// IsrExpandsPerSec once per committed ISR change.
func (m *Metrics) ISRChanged(shrinks, expands int) {
	if m == nil {
		return
	}
	if shrinks > 0 {
		m.isrShrinks.Add(int64(shrinks))
	}
	if expands > 0 {
		m.isrExpands.Add(int64(expands))
	}
}

// TopicTotals are one topic's counters since the broker started.
type TopicTotals struct {
	MessagesIn, BytesIn, BytesOut int64
}

// Totals returns every existing topic's counters and their sum, for the
// console's throughput figures. It is nil-safe and returns zeros without
// metrics.
func (m *Metrics) Totals() (sum TopicTotals, topics map[string]TopicTotals) {
	topics = map[string]TopicTotals{}
	if m == nil {
		return sum, topics
	}
	src := m.sourceOrNil()
	m.topics.Range(func(k, v any) bool {
		if src != nil && !src.HasTopic(k.(string)) {
			m.topics.Delete(k) // deleted: as on scrape
			return true
		}
		c := v.(*topicCounters)
		t := TopicTotals{c.messagesIn.Load(), c.bytesIn.Load(), c.bytesOut.Load()}
		topics[k.(string)] = t
		sum.MessagesIn += t.MessagesIn
		sum.BytesIn += t.BytesIn
		sum.BytesOut += t.BytesOut
		return true
	})
	return sum, topics
}

// Source is the broker state read on scrape.
type Source interface {
	// HasTopic reports whether a topic exists; counters of topics that
	// no longer do are dropped on scrape, as Kafka removes a deleted
	// topic's metrics.
	HasTopic(name string) bool
	// Partitions calls fn for every hosted partition.
	Partitions(fn func(p PartitionState))
	// GroupOffsets returns every group's committed offsets. It may stop
	// early when ctx ends.
	GroupOffsets(ctx context.Context) []GroupOffset
	// Cluster returns the cluster as this node's metadata sees it.
	Cluster() ClusterState
}

// ClusterState is what Kafka's controller metrics count, and the
// partitions this node leads.
type ClusterState struct {
	ActiveController             bool // this node is the active controller
	ActiveBrokers, FencedBrokers int
	Topics, Partitions           int
	// NoLeaderParts counts the partitions without a leader in the whole
	// cluster; only the active controller reports them (offline
	// partitions), as only Kafka's active controller does.
	NoLeaderParts int
	// Leaders counts the partitions this node leads, UnderReplicated
	// those of them whose ISR is smaller than their replica set.
	Leaders, UnderReplicated int
}

// PartitionState is one partition's offsets and size.
type PartitionState struct {
	Topic          string
	Partition      int32
	LogStartOffset int64
	HighWatermark  int64
	LogEndOffset   int64
	SizeBytes      int64
}

// GroupOffset is one group's committed offset of one partition.
type GroupOffset struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
}
