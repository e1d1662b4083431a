package handler

// DescribeLogDirs, key 35, versions 1-4: each log dir with the size of
// every partition in it, and (v4) the file system's total and usable bytes.

import (
	"path/filepath"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/replica"
)

func (h *Handler) describeLogDirs(req *kmsg.DescribeLogDirsRequest) *kmsg.DescribeLogDirsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var wanted map[replica.TP]bool
	if req.Topics != nil {
		wanted = map[replica.TP]bool{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				wanted[replica.TP{Topic: t.Topic, Partition: p}] = true
			}
		}
	}
	byDir := map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	h.b.Replicas.Each(func(p *replica.Partition) {
		if wanted != nil && !wanted[replica.TP{Topic: p.Topic, Partition: p.Index}] {
			return
		}
		dir := filepath.Dir(p.Log.Dir())
		if byDir[dir] == nil {
			byDir[dir] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
		}
		sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		sp.Partition, sp.Size = p.Index, p.Log.Size()
		byDir[dir][p.Topic] = append(byDir[dir][p.Topic], sp)
	})
	for _, dir := range h.b.Config.LogDirs() {
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		sd := kmsg.NewDescribeLogDirsResponseDir()
		sd.Dir = abs
		for topic, parts := range byDir[filepath.Clean(dir)] {
			st := kmsg.NewDescribeLogDirsResponseDirTopic()
			st.Topic, st.Partitions = topic, parts
			sd.Topics = append(sd.Topics, st)
		}
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err == nil {
			sd.TotalBytes = int64(fs.Blocks) * fs.Bsize
			sd.UsableBytes = int64(fs.Bavail) * fs.Bsize
		}
		resp.Dirs = append(resp.Dirs, sd)
	}
	return resp
}
