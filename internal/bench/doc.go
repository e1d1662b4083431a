// Package bench is sluice bench, a Kafka-protocol load generator like
// Kafka's kafka-producer-perf-test and kafka-consumer-perf-test, built on
// franz-go kgo so that it measures any Kafka-compatible broker the same
// way. Like internal/cli it must not import the broker's internals; it
// builds its clients with internal/kclient, as the CLI does.
//
//	produce  P producers write --records (or for --duration) and report
//	         records/s, MB/s and produce-to-ack latency.
//	consume  G groups of C consumers each read the topic and report
//	         records/s, MB/s, the time to join and to the first record.
//	e2e      both at once: consumers tail the topic while a producer writes;
//	         the end-to-end latency of a record runs from its scheduled
//	         send time (stamped in its value) to the moment a consumer
//	         polls it, so a stalled producer cannot hide latency
//	         (coordinated omission).
//
// Every run is bounded by --records and/or --duration, and always by
// --timeout. Memory is bounded by the producer's buffer, the fetch sizes
// and fixed-size latency histograms. The standard workloads are in
// docs/bench.md; TestBenchSmoke in test/e2e runs each mode against a
// broker.
package bench
