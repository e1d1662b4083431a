package handler

// DescribeLogDirs, key 35, versions 1-4: each log dir with the size of
// every partition in it, and (v4) the file system's total and usable bytes.
// The principal needs DESCRIBE on the cluster; Kafka answers others
// CLUSTER_AUTHORIZATION_FAILED for the whole response, with no dirs (v1-2
// have no error field: they read as a broker without log dirs).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/replica"
)

func (h *Handler) describeLogDirs(ctx context.Context, who protocol.Principal, req *kmsg.DescribeLogDirsRequest) *kmsg.DescribeLogDirsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !h.allowedCluster(ctx, who, kmsg.ACLOperationDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	var wanted map[replica.TP]bool
	if req.Topics != nil {
		wanted = map[replica.TP]bool{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				wanted[replica.TP{Topic: t.Topic, Partition: p}] = true
			}
		}
	}
	for _, dir := range h.b.Replicas.LogDirs() {
		sd := kmsg.NewDescribeLogDirsResponseDir()
		sd.Dir, sd.TotalBytes, sd.UsableBytes = dir.Path, dir.TotalBytes, dir.UsableBytes
		for _, ps := range dir.Partitions { // by topic, then partition
			if wanted != nil && !wanted[replica.TP{Topic: ps.Topic, Partition: ps.Partition}] {
				continue
			}
			if n := len(sd.Topics); n == 0 || sd.Topics[n-1].Topic != ps.Topic {
				st := kmsg.NewDescribeLogDirsResponseDirTopic()
				st.Topic = ps.Topic
				sd.Topics = append(sd.Topics, st)
			}
			sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			sp.Partition, sp.Size = ps.Partition, ps.SizeBytes
			st := &sd.Topics[len(sd.Topics)-1]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Dirs = append(resp.Dirs, sd)
	}
	return resp
}
