package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	logOpenFilesDesc = prometheus.NewDesc("sluice_log_open_files",
		"Segment files open now, in use or idle in the file cache.", nil, nil)
	logOpenFilesMaxDesc = prometheus.NewDesc("sluice_log_open_files_max",
		"log.open.files.max: the idle segment files the file cache keeps open at most.", nil, nil)
	logFileHitsDesc = prometheus.NewDesc("sluice_log_file_cache_hits_total",
		"Uses of a segment file that found it open; the hit rate is hits / (hits + misses).", nil, nil)
	logFileMissesDesc = prometheus.NewDesc("sluice_log_file_cache_misses_total",
		"Uses of a segment file that had to open it.", nil, nil)
	logFileEvictionsDesc = prometheus.NewDesc("sluice_log_file_cache_evictions_total",
		"Idle segment files closed to stay within log.open.files.max.", nil, nil)
)

// LogFiles is the state of the broker's segment file cache, read on
// scrape (the log package's FileCacheStats, copied so that metrics does
// not depend on the log).
type LogFiles struct {
	OpenFiles, OpenFilesMax int
	Hits, Misses, Evictions int64
}

// logFilesBox lets a func sit in an atomic.Pointer.
type logFilesBox struct{ read func() LogFiles }

// SetLogFiles installs what the file cache metrics are read from on
// scrape; until it is set they are absent.
func (m *Metrics) SetLogFiles(read func() LogFiles) {
	if m == nil {
		return
	}
	m.logFiles.Store(&logFilesBox{read})
}

// logFilesCollector reports the file cache.
type logFilesCollector struct{ box *atomic.Pointer[logFilesBox] }

func (c logFilesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{logOpenFilesDesc, logOpenFilesMaxDesc, logFileHitsDesc, logFileMissesDesc, logFileEvictionsDesc} {
		ch <- d
	}
}

func (c logFilesCollector) Collect(ch chan<- prometheus.Metric) {
	box := c.box.Load()
	if box == nil {
		return
	}
	s := box.read()
	ch <- prometheus.MustNewConstMetric(logOpenFilesDesc, prometheus.GaugeValue, float64(s.OpenFiles))
	ch <- prometheus.MustNewConstMetric(logOpenFilesMaxDesc, prometheus.GaugeValue, float64(s.OpenFilesMax))
	ch <- prometheus.MustNewConstMetric(logFileHitsDesc, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(logFileMissesDesc, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(logFileEvictionsDesc, prometheus.CounterValue, float64(s.Evictions))
}
