package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/log"
)

// storageGauges report logs the disk stopped: those refusing appends for
// want of space or files (they resume by themselves) and those failed
// until a restart. Both count open logs in this process.
func storageGauges() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_log_partitions_refusing_writes",
			Help: "Partition logs whose last append the file system refused for want of space or files (ENOSPC, EMFILE); appends get KAFKA_STORAGE_ERROR and resume once there is room.",
		}, func() float64 { return float64(log.RefusingWrites()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_log_partitions_failed",
			Help: "Partition logs failed on a disk error (a failed fsync); they refuse appends until the broker restarts.",
		}, func() float64 { return float64(log.FailedLogs()) }),
	}
}
