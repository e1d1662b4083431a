package metrics

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeSource is a broker with fixed partitions and commits.
type fakeSource struct {
	topics     map[string]bool
	partitions []PartitionState
	offsets    []GroupOffset
	cluster    ClusterState
}

func (f *fakeSource) HasTopic(name string) bool { return f.topics[name] }
func (f *fakeSource) Partitions(fn func(PartitionState)) {
	for _, p := range f.partitions {
		fn(p)
	}
}
func (f *fakeSource) GroupOffsets(context.Context) []GroupOffset { return f.offsets }
func (f *fakeSource) Cluster() ClusterState                      { return f.cluster }

// gather returns every sample as "name{label=value,...}" -> value, with
// histograms as their _count and _sum.
func gather(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType().String() {
			case "COUNTER":
				out[key] = s.GetCounter().GetValue()
			case "GAUGE":
				out[key] = s.GetGauge().GetValue()
			case "HISTOGRAM":
				out[f.GetName()+"_count{"+strings.Join(labels, ",")+"}"] = float64(s.GetHistogram().GetSampleCount())
				out[f.GetName()+"_sum{"+strings.Join(labels, ",")+"}"] = s.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func TestTopicCounters(t *testing.T) {
	m := New()
	m.Produced("orders", 10, 1000)
	m.Produced("orders", 5, 500)
	m.Produced("orders", 0, 0) // a request whose appends all failed
	m.Fetched("orders", 700)
	m.Fetched("orders", 0) // an empty long poll
	m.Produced("audit", 1, 80)

	got := gather(t, m)
	want := map[string]float64{
		"kafka_server_brokertopicmetrics_messagesin_total{topic=orders}":           15,
		"kafka_server_brokertopicmetrics_bytesin_total{topic=orders}":              1500,
		"kafka_server_brokertopicmetrics_bytesout_total{topic=orders}":             700,
		"kafka_server_brokertopicmetrics_totalproducerequests_total{topic=orders}": 3,
		"kafka_server_brokertopicmetrics_totalfetchrequests_total{topic=orders}":   2,
		"kafka_server_brokertopicmetrics_messagesin_total{topic=audit}":            1,
		"kafka_server_brokertopicmetrics_bytesout_total{topic=audit}":              0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	sum, each := m.Totals()
	if sum != (TopicTotals{16, 1580, 700}) || each["orders"] != (TopicTotals{15, 1500, 700}) {
		t.Errorf("Totals = %+v, %+v", sum, each)
	}
}

func TestDeletedTopicCountersDropped(t *testing.T) {
	m := New()
	m.Produced("kept", 1, 10)
	m.Produced("gone", 1, 10)
	m.SetSource(&fakeSource{topics: map[string]bool{"kept": true}})
	got := gather(t, m)
	if _, ok := got["kafka_server_brokertopicmetrics_messagesin_total{topic=gone}"]; ok {
		t.Error("a deleted topic's counters are still exported")
	}
	if got["kafka_server_brokertopicmetrics_messagesin_total{topic=kept}"] != 1 {
		t.Error("an existing topic's counters are missing")
	}
}

func TestRequestMetrics(t *testing.T) {
	m := New()
	m.Request(kmsg.Produce.Int16(), 2*time.Millisecond)
	m.Request(kmsg.Produce.Int16(), 3*time.Millisecond)
	m.Request(kmsg.Fetch.Int16(), 500*time.Millisecond)
	m.Request(-1, time.Second)   // not a key: ignored
	m.Request(9999, time.Second) // not a key: ignored
	got := gather(t, m)
	checks := map[string]float64{
		"kafka_network_requestmetrics_requests_total{request=Produce}":          2,
		"kafka_network_requestmetrics_requests_total{request=Fetch}":            1,
		"kafka_network_requestmetrics_totaltime_seconds_count{request=Produce}": 2,
		"kafka_network_requestmetrics_totaltime_seconds_sum{request=Produce}":   0.005,
		"kafka_network_requestmetrics_totaltime_seconds_sum{request=Fetch}":     0.5,
	}
	for k, v := range checks {
		if d := got[k] - v; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["kafka_network_requestmetrics_requests_total{request=Metadata}"]; ok {
		t.Error("an API never called is exported")
	}
}

func TestHistogramBuckets(t *testing.T) {
	var r requestCounters
	r.observe(400 * time.Microsecond) // first bucket
	r.observe(7 * time.Millisecond)   // 0.01
	r.observe(2 * time.Minute)        // beyond the last: only +Inf
	count, _, buckets := r.snapshot()
	if count != 3 {
		t.Fatalf("count = %d", count)
	}
	for bound, want := range map[float64]uint64{0.0005: 1, 0.005: 1, 0.01: 2, 60: 2} {
		if buckets[bound] != want {
			t.Errorf("bucket %v = %d, want %d", bound, buckets[bound], want)
		}
	}
}

func TestStateMetrics(t *testing.T) {
	m := New()
	m.SetSource(&fakeSource{
		topics: map[string]bool{"orders": true},
		partitions: []PartitionState{
			{Topic: "orders", Partition: 0, LogStartOffset: 0, HighWatermark: 100, LogEndOffset: 100, SizeBytes: 4096},
			{Topic: "orders", Partition: 1, LogStartOffset: 5, HighWatermark: 50, LogEndOffset: 52, SizeBytes: 2048},
		},
		offsets: []GroupOffset{
			{Group: "billing", Topic: "orders", Partition: 0, Offset: 60},
			{Group: "billing", Topic: "orders", Partition: 1, Offset: 50},
			{Group: "billing", Topic: "deleted", Partition: 0, Offset: 3}, // no such partition: skipped
			{Group: "audit", Topic: "orders", Partition: 0, Offset: 120},  // past the high watermark: lag 0
		},
	})
	got := gather(t, m)
	want := map[string]float64{
		"kafka_server_replicamanager_partitioncount{}":                                       2,
		"kafka_server_replicamanager_underreplicatedpartitions{}":                            0,
		"kafka_log_log_size{partition=0,topic=orders}":                                       4096,
		"kafka_log_log_logstartoffset{partition=1,topic=orders}":                             5,
		"kafka_log_log_logendoffset{partition=1,topic=orders}":                               52,
		"kafka_topic_partition_current_offset{partition=1,topic=orders}":                     50,
		"kafka_consumergroup_lag{consumergroup=billing,partition=0,topic=orders}":            40,
		"kafka_consumergroup_lag{consumergroup=billing,partition=1,topic=orders}":            0,
		"kafka_consumergroup_current_offset{consumergroup=billing,partition=0,topic=orders}": 60,
		"kafka_consumergroup_lag{consumergroup=audit,partition=0,topic=orders}":              0,
		"kafka_consumergroup_lag_sum{consumergroup=billing,topic=orders}":                    40,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got["kafka_consumergroup_lag{consumergroup=billing,partition=0,topic=deleted}"]; ok {
		t.Error("lag exported for a partition that does not exist")
	}
}

// TestReplicationMetrics: leaders and under-replicated partitions are this
// node's, offline partitions are reported by the active controller only,
// and ISR changes are counted as reported.
func TestReplicationMetrics(t *testing.T) {
	m := New()
	src := &fakeSource{cluster: ClusterState{ActiveController: true, ActiveBrokers: 2, FencedBrokers: 1,
		Topics: 2, Partitions: 9, NoLeaderParts: 2, Leaders: 5, UnderReplicated: 3}}
	m.SetSource(src)
	m.ISRChanged(1, 0)
	m.ISRChanged(2, 3)
	m.ISRChanged(0, 0)
	got := gather(t, m)
	want := map[string]float64{
		"kafka_server_replicamanager_leadercount{}":                 5,
		"kafka_server_replicamanager_underreplicatedpartitions{}":   3,
		"kafka_server_replicamanager_isrshrinks_total{}":            3,
		"kafka_server_replicamanager_isrexpands_total{}":            3,
		"kafka_controller_kafkacontroller_offlinepartitionscount{}": 2,
		"kafka_controller_kafkacontroller_activecontrollercount{}":  1,
		"kafka_controller_kafkacontroller_globalpartitioncount{}":   9,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	src.cluster.ActiveController = false
	got = gather(t, m)
	if g, ok := got["kafka_controller_kafkacontroller_offlinepartitionscount{}"]; !ok || g != 0 {
		t.Errorf("offline partitions on a node that is not the active controller = %v (present %v), want 0", g, ok)
	}
	if g := got["kafka_server_replicamanager_underreplicatedpartitions{}"]; g != 3 {
		t.Errorf("under-replicated partitions on a node that is not the controller = %v, want 3", g)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ISRChanged(1, 1)
	m.Produced("t", 1, 1)
	m.Fetched("t", 1)
	m.Request(0, time.Millisecond)
	m.SetSource(nil)
	if sum, each := m.Totals(); sum != (TopicTotals{}) || len(each) != 0 {
		t.Error("nil metrics report counts")
	}
}

// TestConcurrentCounting runs the hot path against scrapes (go test -race).
func TestConcurrentCounting(t *testing.T) {
	m := New()
	m.SetSource(&fakeSource{topics: map[string]bool{"a": true, "b": true}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := []string{"a", "b"}[i%2]
			for range 1000 {
				m.Produced(topic, 2, 100)
				m.Fetched(topic, 50)
				m.Request(kmsg.Produce.Int16(), time.Millisecond)
			}
		}()
	}
	for range 20 {
		gather(t, m)
	}
	wg.Wait()
	got := gather(t, m)
	if got["kafka_server_brokertopicmetrics_messagesin_total{topic=a}"] != 8000 ||
		got["kafka_network_requestmetrics_requests_total{request=Produce}"] != 8000 {
		t.Errorf("lost counts: %v", got)
	}
}

func BenchmarkProduced(b *testing.B) {
	m := New()
	for b.Loop() {
		m.Produced("orders", 10, 1000)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New()
	for b.Loop() {
		m.Request(kmsg.Produce.Int16(), 3*time.Millisecond)
	}
}
