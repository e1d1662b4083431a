package replica

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// LogDir describes one log dir, as DescribeLogDirs reports it.
type LogDir struct {
	Path string // absolute
	// TotalBytes and UsableBytes are the file system's size and the bytes
	// free to this process; -1 when the file system cannot tell.
	TotalBytes, UsableBytes int64
	Partitions              []PartitionSize // by topic, then partition
}

// PartitionSize is the bytes one hosted partition takes in its log dir.
type PartitionSize struct {
	Topic     string
	Partition int32
	SizeBytes int64
}

// LogDirs describes every log dir, in configured order, with the
// partitions hosted in it.
func (m *Manager) LogDirs() []LogDir {
	byDir := map[string][]PartitionSize{}
	m.mu.RLock()
	for tp, p := range m.partitions {
		dir := m.located[tp]
		byDir[dir] = append(byDir[dir], PartitionSize{Topic: tp.Topic, Partition: tp.Partition, SizeBytes: p.Size()})
	}
	m.mu.RUnlock()
	out := make([]LogDir, 0, len(m.dirs))
	for _, dir := range m.dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		ld := LogDir{Path: abs, TotalBytes: -1, UsableBytes: -1, Partitions: byDir[dir]}
		slices.SortFunc(ld.Partitions, func(a, b PartitionSize) int {
			return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err == nil {
			ld.TotalBytes = int64(fs.Blocks) * fs.Bsize
			ld.UsableBytes = int64(fs.Bavail) * fs.Bsize
		}
		out = append(out, ld)
	}
	return out
}
