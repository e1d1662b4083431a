package replica

import (
	"errors"
	"path/filepath"
)

// highWatermarkFile is Kafka's checkpoint of every hosted partition's
// high watermark (replication-offset-checkpoint), one per log dir, in the
// same text format as the recovery point checkpoint.
//
// Why it exists: a log reopened after a restart holds records its
// replica had copied but the ISR had not all made durable yet, which a
// new leader may not have and this replica may later truncate. Were
// consumers let read to the recovered log end, they could see a record
// that is then gone (an inconsistent read). So a partition reopens with
// its high watermark at min(checkpointed, log end), never above what it
// last knew, and moves up from there: a follower with its leader's high
// watermark (followHighWatermark), a leader with its ISR's offsets
// (setAssignment, updateFollower). A leader alone in its ISR (every
// RF=1 partition) moves it to its durable log end as it takes the
// assignment, as Kafka's lone leader does, so a single broker reads to
// its log end at once, as before.
//
// The checkpoint is written with the others (Manager.Checkpoint, at
// Close and every minute) and more often alone
// (CheckpointHighWatermarks, every 5 s like Kafka's
// replica.high.watermark.checkpoint.interval.ms). It lags the true high watermark, which only ever
// makes a reopened one lower: safe, never ahead.
const highWatermarkFile = "replication-offset-checkpoint"

// readHighWatermarks reads dir's high watermark checkpoint; a missing
// file is an empty one, and an unreadable one is reported and read as
// empty, so partitions reopen at their log start (Kafka's 0) and wait
// for their leader or ISR.
func (m *Manager) readHighWatermarks(dir string) map[TP]int64 {
	hws, err := readCheckpoint(filepath.Join(dir, highWatermarkFile))
	if err != nil {
		m.logger.Warn("ignoring unreadable high watermark checkpoint; partitions reopen with their high watermark at their log start",
			"dir", dir, "err", err)
	}
	return hws
}

// checkpointedHighWatermark is where the read limit of partition tp,
// opening in dir, starts: its checkpointed high watermark, or 0 (taken
// up to the log start) when none is known or its directory belonged to
// an earlier topic of the same name. The log clamps it to its end.
func (m *Manager) checkpointedHighWatermark(dir string, tp TP, stale bool) int64 {
	hw, ok := m.highWatermarks[dir][tp]
	if !ok || stale {
		return 0
	}
	return hw
}

// writeHighWatermarks writes dir's high watermark checkpoint.
func writeHighWatermarks(dir string, hws map[TP]int64) error {
	return writeCheckpoint(filepath.Join(dir, highWatermarkFile), hws)
}

// CheckpointHighWatermarks writes each dir's high watermark checkpoint
// alone; Checkpoint writes it with the others.
func (m *Manager) CheckpointHighWatermarks() error {
	hws := map[string]map[TP]int64{}
	m.mu.RLock()
	for tp, p := range m.partitions {
		dir := m.located[tp]
		if hws[dir] == nil {
			hws[dir] = map[TP]int64{}
		}
		hws[dir][tp] = p.HighWatermark()
	}
	m.mu.RUnlock()
	var errs []error
	for _, dir := range m.dirs {
		errs = append(errs, writeHighWatermarks(dir, hws[dir]))
	}
	return errors.Join(errs...)
}
