package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// connectionCounters count the broker's client connections, for Kafka's
// socket-server connection-count and the connections refused by
// max.connections and max.connections.per.ip.
type connectionCounters struct {
	open    atomic.Int64
	refused atomic.Int64
}

// ConnectionOpened counts a client connection the server keeps.
func (m *Metrics) ConnectionOpened() {
	if m != nil {
		m.connections.open.Add(1)
	}
}

// ConnectionClosed counts a kept connection gone.
func (m *Metrics) ConnectionClosed() {
	if m != nil {
		m.connections.open.Add(-1)
	}
}

// ConnectionRefused counts a connection closed at once for a limit.
func (m *Metrics) ConnectionRefused() {
	if m != nil {
		m.connections.refused.Add(1)
	}
}

// connectionGauges report the counters on scrape.
func (m *Metrics) connectionGauges() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kafka_server_socketservermetrics_connection_count",
			Help: "Client connections open on all listeners.",
		}, func() float64 { return float64(m.connections.open.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sluice_server_connections_refused_total",
			Help: "Connections closed as they were accepted because max.connections or max.connections.per.ip was reached.",
		}, func() float64 { return float64(m.connections.refused.Load()) }),
	}
}
