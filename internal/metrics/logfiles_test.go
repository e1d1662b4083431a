package metrics

import "testing"

// TestLogFilesMetrics: the file cache's state appears once its reader is
// set, and not before.
func TestLogFilesMetrics(t *testing.T) {
	m := New()
	if _, ok := gather(t, m)["sluice_log_open_files{}"]; ok {
		t.Fatal("file cache metrics before SetLogFiles")
	}
	m.SetLogFiles(func() LogFiles {
		return LogFiles{OpenFiles: 7, OpenFilesMax: 4096, Hits: 90, Misses: 10, Evictions: 3}
	})
	got := gather(t, m)
	for name, want := range map[string]float64{
		"sluice_log_open_files{}":                 7,
		"sluice_log_open_files_max{}":             4096,
		"sluice_log_file_cache_hits_total{}":      90,
		"sluice_log_file_cache_misses_total{}":    10,
		"sluice_log_file_cache_evictions_total{}": 3,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
