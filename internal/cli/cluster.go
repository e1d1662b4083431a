// sluice cluster: info (Metadata and ApiVersions), health (every broker
// answers, every partition has a leader and a full ISR) and decommission
// (cluster_decommission.go).

package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func clusterCommand() *cobra.Command {
	f := &adminFlags{}
	cmd := newAdminParent("cluster", "Show the cluster's brokers and check its health", f)
	cmd.AddCommand(clusterInfoCommand(f), clusterHealthCommand(f), clusterDecommissionCommand(f))
	return cmd
}

type clusterInfo struct {
	ClusterID  string          `json:"cluster_id"`
	Controller int32           `json:"controller"` // -1: unknown
	Topics     int             `json:"topics"`
	Partitions int             `json:"partitions"`
	Brokers    []clusterBroker `json:"brokers"`
}

type clusterBroker struct {
	ID         int32  `json:"id"`
	Host       string `json:"host"`
	Port       int32  `json:"port"`
	Rack       string `json:"rack,omitempty"`
	Controller bool   `json:"controller"`
}

func clusterInfoCommand(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Show the cluster id, controller and brokers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, showClusterInfo)
		},
	}
}

// showClusterInfo prints the cluster id, controller and brokers.
func showClusterInfo(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
	meta, err := cl.adm.Metadata(ctx)
	if err != nil {
		return err
	}
	info := newClusterInfo(meta)
	if asJSON {
		return printJSON(w, info)
	}
	return printClusterInfo(w, info)
}

// newClusterInfo summarises a Metadata answer, brokers sorted by id.
func newClusterInfo(meta kadm.Metadata) clusterInfo {
	info := clusterInfo{ClusterID: meta.Cluster, Controller: meta.Controller, Topics: len(meta.Topics)}
	meta.Topics.EachPartition(func(kadm.PartitionDetail) { info.Partitions++ })
	for _, b := range meta.Brokers {
		cb := clusterBroker{ID: b.NodeID, Host: b.Host, Port: b.Port, Controller: b.NodeID == meta.Controller}
		if b.Rack != nil {
			cb.Rack = *b.Rack
		}
		info.Brokers = append(info.Brokers, cb)
	}
	sort.Slice(info.Brokers, func(i, j int) bool { return info.Brokers[i].ID < info.Brokers[j].ID })
	return info
}

func printClusterInfo(w io.Writer, info clusterInfo) error {
	tw := newTable(w)
	row(tw, "CLUSTER-ID", orDash(info.ClusterID))
	controller := "unknown"
	if info.Controller >= 0 {
		controller = fmt.Sprint(info.Controller)
	}
	row(tw, "CONTROLLER", controller)
	row(tw, "BROKERS", len(info.Brokers))
	row(tw, "TOPICS", info.Topics)
	row(tw, "PARTITIONS", info.Partitions)
	tw.Flush()
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "ID", "HOST", "PORT", "RACK", "CONTROLLER")
	for _, b := range info.Brokers {
		isController := "no"
		if b.Controller {
			isController = "yes"
		}
		row(tw, b.ID, b.Host, b.Port, orDash(b.Rack), isController)
	}
	return tw.Flush()
}

type clusterHealth struct {
	Healthy                   bool     `json:"healthy"`
	Controller                int32    `json:"controller"`
	Brokers                   []int32  `json:"brokers"`
	BrokersDown               []int32  `json:"brokers_down"`
	LeaderlessPartitions      []string `json:"leaderless_partitions"`       // "topic/partition"
	UnderReplicatedPartitions []string `json:"under_replicated_partitions"` // "topic/partition"
}

func clusterHealthCommand(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Check every broker answers and every partition has a leader and a full ISR; exit 1 if not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, showClusterHealth)
		},
	}
}

// showClusterHealth prints the health check and fails with the verdict
// when the cluster is not healthy.
func showClusterHealth(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
	meta, err := cl.adm.Metadata(ctx)
	if err != nil {
		return err
	}
	versions, err := cl.adm.ApiVersions(ctx)
	if err != nil {
		return err
	}
	h := checkHealth(meta, versions)
	if asJSON {
		if err := printJSON(w, h); err != nil {
			return err
		}
	} else {
		printClusterHealth(w, h)
	}
	return h.problem()
}

func checkHealth(meta kadm.Metadata, versions kadm.BrokersApiVersions) clusterHealth {
	h := clusterHealth{
		Controller:                meta.Controller,
		Brokers:                   meta.Brokers.NodeIDs(),
		BrokersDown:               []int32{},
		LeaderlessPartitions:      []string{},
		UnderReplicatedPartitions: []string{},
	}
	sort.Slice(h.Brokers, func(i, j int) bool { return h.Brokers[i] < h.Brokers[j] })
	for _, id := range h.Brokers {
		if v, ok := versions[id]; !ok || v.Err != nil {
			h.BrokersDown = append(h.BrokersDown, id)
		}
	}
	for _, t := range meta.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			name := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
			if p.Leader < 0 {
				h.LeaderlessPartitions = append(h.LeaderlessPartitions, name)
			}
			if len(p.ISR) < len(p.Replicas) {
				h.UnderReplicatedPartitions = append(h.UnderReplicatedPartitions, name)
			}
		}
	}
	h.Healthy = h.problem() == nil
	return h
}

// problem is the unhealthy verdict as one sentence, or nil.
func (h clusterHealth) problem() error {
	var issues []string
	if h.Controller < 0 {
		issues = append(issues, "no controller is known")
	}
	if n := len(h.BrokersDown); n > 0 {
		verb := "do"
		if n == 1 {
			verb = "does"
		}
		issues = append(issues, fmt.Sprintf("%d of %s %s not answer", n, plural(len(h.Brokers), "broker"), verb))
	}
	if n := len(h.LeaderlessPartitions); n > 0 {
		issues = append(issues, plural(n, "partition")+" without a leader")
	}
	if n := len(h.UnderReplicatedPartitions); n > 0 {
		issues = append(issues, plural(n, "under-replicated partition"))
	}
	if len(issues) == 0 {
		return nil
	}
	return fmt.Errorf("the cluster is not healthy: %s", strings.Join(issues, ", "))
}

func printClusterHealth(w io.Writer, h clusterHealth) {
	tw := newTable(w)
	healthy := "no"
	if h.Healthy {
		healthy = "yes"
	}
	controller := "unknown"
	if h.Controller >= 0 {
		controller = fmt.Sprint(h.Controller)
	}
	row(tw, "HEALTHY", healthy)
	row(tw, "CONTROLLER", controller)
	row(tw, "BROKERS", orNone(int32List(h.Brokers)))
	row(tw, "BROKERS-DOWN", orNone(int32List(h.BrokersDown)))
	row(tw, "LEADERLESS-PARTITIONS", orNone(strings.Join(h.LeaderlessPartitions, ",")))
	row(tw, "UNDER-REPLICATED-PARTITIONS", orNone(strings.Join(h.UnderReplicatedPartitions, ",")))
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
