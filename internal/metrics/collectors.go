package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupOffsetsTimeout bounds how long a scrape waits for the group
// coordinator, so a busy coordinator delays a scrape, never hangs it.
const groupOffsetsTimeout = 5 * time.Second

var (
	topicLabels     = []string{"topic"}
	partitionLabels = []string{"topic", "partition"}
	groupLabels     = []string{"consumergroup", "topic", "partition"}

	messagesInDesc = prometheus.NewDesc("kafka_server_brokertopicmetrics_messagesin_total",
		"Records appended to the topic's partitions.", topicLabels, nil)
	bytesInDesc = prometheus.NewDesc("kafka_server_brokertopicmetrics_bytesin_total",
		"Record batch bytes appended to the topic's partitions by producers.", topicLabels, nil)
	bytesOutDesc = prometheus.NewDesc("kafka_server_brokertopicmetrics_bytesout_total",
		"Record batch bytes sent to consumers in fetch responses.", topicLabels, nil)
	produceRequestsDesc = prometheus.NewDesc("kafka_server_brokertopicmetrics_totalproducerequests_total",
		"Produce requests that named the topic.", topicLabels, nil)
	fetchRequestsDesc = prometheus.NewDesc("kafka_server_brokertopicmetrics_totalfetchrequests_total",
		"Fetch responses that carried the topic.", topicLabels, nil)

	requestsDesc = prometheus.NewDesc("kafka_network_requestmetrics_requests_total",
		"Requests answered, by API.", []string{"request"}, nil)
	totalTimeDesc = prometheus.NewDesc("kafka_network_requestmetrics_totaltime_seconds",
		"Time from decoding a request to handing its response to the socket, by API (fetch includes its long poll).",
		[]string{"request"}, nil)

	partitionCountDesc = prometheus.NewDesc("kafka_server_replicamanager_partitioncount",
		"Partitions hosted on this broker.", nil, nil)
	leaderCountDesc = prometheus.NewDesc("kafka_server_replicamanager_leadercount",
		"Partitions this broker leads.", nil, nil)
	underReplicatedDesc = prometheus.NewDesc("kafka_server_replicamanager_underreplicatedpartitions",
		"Partitions led here whose ISR is smaller than their replica set.", nil, nil)
	isrShrinksDesc = prometheus.NewDesc("kafka_server_replicamanager_isrshrinks_total",
		"ISR shrinks of partitions led here: changes that removed replicas from the ISR.", nil, nil)
	isrExpandsDesc = prometheus.NewDesc("kafka_server_replicamanager_isrexpands_total",
		"ISR expansions of partitions led here: changes that added replicas to the ISR.", nil, nil)
	logSizeDesc = prometheus.NewDesc("kafka_log_log_size",
		"Bytes of the partition's log segments.", partitionLabels, nil)
	logStartDesc = prometheus.NewDesc("kafka_log_log_logstartoffset",
		"The partition's log start offset.", partitionLabels, nil)
	logEndDesc = prometheus.NewDesc("kafka_log_log_logendoffset",
		"The partition's log end offset.", partitionLabels, nil)
	highWatermarkDesc = prometheus.NewDesc("kafka_topic_partition_current_offset",
		"The partition's high watermark: the offset the next consumed record will get.", partitionLabels, nil)

	groupOffsetDesc = prometheus.NewDesc("kafka_consumergroup_current_offset",
		"The group's committed offset of the partition.", groupLabels, nil)
	groupLagDesc = prometheus.NewDesc("kafka_consumergroup_lag",
		"High watermark minus the group's committed offset.", groupLabels, nil)
	activeControllerDesc = prometheus.NewDesc("kafka_controller_kafkacontroller_activecontrollercount",
		"1 on the active controller, else 0.", nil, nil)
	activeBrokersDesc = prometheus.NewDesc("kafka_controller_kafkacontroller_activebrokercount",
		"Registered brokers that are not fenced.", nil, nil)
	fencedBrokersDesc = prometheus.NewDesc("kafka_controller_kafkacontroller_fencedbrokercount",
		"Registered brokers fenced for missing heartbeats.", nil, nil)
	globalTopicsDesc = prometheus.NewDesc("kafka_controller_kafkacontroller_globaltopiccount",
		"Topics in the cluster.", nil, nil)
	globalPartitionsDesc = prometheus.NewDesc("kafka_controller_kafkacontroller_globalpartitioncount",
		"Partitions in the cluster.", nil, nil)
	offlinePartitionsDesc = prometheus.NewDesc("kafka_controller_kafkacontroller_offlinepartitionscount",
		"Partitions without a leader, on the active controller; 0 on every other node.", nil, nil)
	groupLagSumDesc = prometheus.NewDesc("kafka_consumergroup_lag_sum",
		"The group's lag summed over the topic's partitions.", []string{"consumergroup", "topic"}, nil)
)

// countersCollector turns the request-path counters into samples.
type countersCollector Metrics

func (c *countersCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{messagesInDesc, bytesInDesc, bytesOutDesc,
		produceRequestsDesc, fetchRequestsDesc, requestsDesc, totalTimeDesc, isrShrinksDesc, isrExpandsDesc} {
		ch <- d
	}
}

func (c *countersCollector) Collect(ch chan<- prometheus.Metric) {
	m := (*Metrics)(c)
	src := m.sourceOrNil()
	m.topics.Range(func(k, v any) bool {
		topic := k.(string)
		if src != nil && !src.HasTopic(topic) {
			m.topics.Delete(topic)
			return true
		}
		tc := v.(*topicCounters)
		ch <- prometheus.MustNewConstMetric(messagesInDesc, prometheus.CounterValue, float64(tc.messagesIn.Load()), topic)
		ch <- prometheus.MustNewConstMetric(bytesInDesc, prometheus.CounterValue, float64(tc.bytesIn.Load()), topic)
		ch <- prometheus.MustNewConstMetric(bytesOutDesc, prometheus.CounterValue, float64(tc.bytesOut.Load()), topic)
		ch <- prometheus.MustNewConstMetric(produceRequestsDesc, prometheus.CounterValue, float64(tc.produces.Load()), topic)
		ch <- prometheus.MustNewConstMetric(fetchRequestsDesc, prometheus.CounterValue, float64(tc.fetches.Load()), topic)
		return true
	})
	ch <- prometheus.MustNewConstMetric(isrShrinksDesc, prometheus.CounterValue, float64(m.isrShrinks.Load()))
	ch <- prometheus.MustNewConstMetric(isrExpandsDesc, prometheus.CounterValue, float64(m.isrExpands.Load()))
	for key := range m.requests {
		r := &m.requests[key]
		count, sum, buckets := r.snapshot()
		if count == 0 {
			continue // only APIs that were used, as Kafka registers them lazily
		}
		name := kmsg.NameForKey(int16(key))
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(count), name)
		ch <- prometheus.MustNewConstHistogram(totalTimeDesc, count, sum, buckets, name)
	}
}

// stateCollector reads partitions and group offsets from the Source.
type stateCollector Metrics

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{partitionCountDesc, leaderCountDesc, underReplicatedDesc,
		logSizeDesc, logStartDesc, logEndDesc, highWatermarkDesc,
		groupOffsetDesc, groupLagDesc, groupLagSumDesc, activeControllerDesc, activeBrokersDesc,
		fencedBrokersDesc, globalTopicsDesc, globalPartitionsDesc, offlinePartitionsDesc} {
		ch <- d
	}
}

type topicPartition struct {
	topic     string
	partition int32
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	src := (*Metrics)(c).sourceOrNil()
	if src == nil {
		return
	}
	highWatermarks := map[topicPartition]int64{}
	src.Partitions(func(p PartitionState) {
		highWatermarks[topicPartition{p.Topic, p.Partition}] = p.HighWatermark
		part := strconv.Itoa(int(p.Partition))
		ch <- prometheus.MustNewConstMetric(logSizeDesc, prometheus.GaugeValue, float64(p.SizeBytes), p.Topic, part)
		ch <- prometheus.MustNewConstMetric(logStartDesc, prometheus.GaugeValue, float64(p.LogStartOffset), p.Topic, part)
		ch <- prometheus.MustNewConstMetric(logEndDesc, prometheus.GaugeValue, float64(p.LogEndOffset), p.Topic, part)
		ch <- prometheus.MustNewConstMetric(highWatermarkDesc, prometheus.GaugeValue, float64(p.HighWatermark), p.Topic, part)
	})
	cs := src.Cluster()
	ch <- prometheus.MustNewConstMetric(partitionCountDesc, prometheus.GaugeValue, float64(len(highWatermarks)))
	ch <- prometheus.MustNewConstMetric(leaderCountDesc, prometheus.GaugeValue, float64(cs.Leaders))
	ch <- prometheus.MustNewConstMetric(underReplicatedDesc, prometheus.GaugeValue, float64(cs.UnderReplicated))
	active, offline := 0.0, 0.0
	if cs.ActiveController {
		active, offline = 1, float64(cs.NoLeaderParts)
	}
	ch <- prometheus.MustNewConstMetric(activeControllerDesc, prometheus.GaugeValue, active)
	ch <- prometheus.MustNewConstMetric(activeBrokersDesc, prometheus.GaugeValue, float64(cs.ActiveBrokers))
	ch <- prometheus.MustNewConstMetric(fencedBrokersDesc, prometheus.GaugeValue, float64(cs.FencedBrokers))
	ch <- prometheus.MustNewConstMetric(globalTopicsDesc, prometheus.GaugeValue, float64(cs.Topics))
	ch <- prometheus.MustNewConstMetric(globalPartitionsDesc, prometheus.GaugeValue, float64(cs.Partitions))
	ch <- prometheus.MustNewConstMetric(offlinePartitionsDesc, prometheus.GaugeValue, offline)

	ctx, cancel := context.WithTimeout(context.Background(), groupOffsetsTimeout)
	defer cancel()
	type groupTopic struct{ group, topic string }
	sums := map[groupTopic]int64{}
	for _, o := range src.GroupOffsets(ctx) {
		hw, ok := highWatermarks[topicPartition{o.Topic, o.Partition}]
		if !ok || o.Offset < 0 {
			continue // a deleted partition, or no commit
		}
		lag := Lag(hw, o.Offset)
		part := strconv.Itoa(int(o.Partition))
		ch <- prometheus.MustNewConstMetric(groupOffsetDesc, prometheus.GaugeValue, float64(o.Offset), o.Group, o.Topic, part)
		ch <- prometheus.MustNewConstMetric(groupLagDesc, prometheus.GaugeValue, float64(lag), o.Group, o.Topic, part)
		sums[groupTopic{o.Group, o.Topic}] += lag
	}
	for gt, sum := range sums {
		ch <- prometheus.MustNewConstMetric(groupLagSumDesc, prometheus.GaugeValue, float64(sum), gt.group, gt.topic)
	}
}

// Lag is a group's lag on a partition: how many offsets lie between its
// committed offset and the high watermark. A commit beyond the high
// watermark (possible after the log was truncated or recreated) is no lag,
// not a negative one.
func Lag(highWatermark, committed int64) int64 {
	return max(highWatermark-committed, 0)
}
