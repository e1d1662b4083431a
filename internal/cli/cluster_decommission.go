// sluice cluster decommission NODE: moves every replica off a broker with
// Kafka's partition reassignment (AlterPartitionReassignments), waits
// until none is left on it, and says when it can be stopped.

package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// decommissionPollEvery is how often decommission checks the moves.
const decommissionPollEvery = time.Second

// decommissionWaitDefault bounds the wait for the moves by default.
const decommissionWaitDefault = 10 * time.Minute

func clusterDecommissionCommand(f *adminFlags) *cobra.Command {
	wait := decommissionWaitDefault
	cmd := &cobra.Command{
		Use:   "decommission NODE",
		Short: "Move every replica off a broker and wait until it can be stopped",
		Long: "Moves every partition replica off broker NODE to the least loaded other brokers " +
			"(Kafka's partition reassignment), refusing before any move if the other brokers cannot " +
			"hold some partition's replication factor, then waits until NODE holds no replica.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			node, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil || node < 0 {
				return fmt.Errorf("NODE must be a broker id, not %q", args[0])
			}
			if err := checkFormat(f.format); err != nil {
				return err
			}
			cl, err := newClient(&f.client)
			if err != nil {
				return err
			}
			defer cl.close()
			ctx, cancel := context.WithTimeout(cmd.Context(), cl.timeout+wait)
			defer cancel()
			if err := cl.reach(ctx); err != nil {
				return cl.explain(err)
			}
			return cl.explain(decommission(ctx, cl.adm, int32(node), cmd.OutOrStdout()))
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", wait, "how long to wait for the replicas to move")
	return cmd
}

// decommission plans the moves off node, starts them and waits for them.
func decommission(ctx context.Context, adm *kadm.Client, node int32, w io.Writer) error {
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return err
	}
	plan, err := planDecommission(meta, node)
	if err != nil {
		return err
	}
	if len(plan) == 0 {
		fmt.Fprintf(w, "broker %d holds no replica; it can be stopped\n", node)
		return nil
	}
	var req kadm.AlterPartitionAssignmentsReq
	moving := kadm.TopicsSet{}
	count := 0
	for topic, ps := range plan {
		for p, replicas := range ps {
			req.Assign(topic, p, replicas)
			moving.Add(topic, p)
			count++
		}
	}
	res, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("start moving replicas off broker %d: %w", node, err)
	}
	fmt.Fprintf(w, "moving %d partition replicas off broker %d\n", count, node)
	return waitDecommissioned(ctx, adm, node, moving, w)
}

// waitDecommissioned polls until no partition has node as a replica,
// printing the count left whenever it changes.
func waitDecommissioned(ctx context.Context, adm *kadm.Client, node int32, moving kadm.TopicsSet, w io.Writer) error {
	last := -1
	for {
		meta, err := adm.Metadata(ctx)
		if err != nil {
			return err
		}
		left := 0
		meta.Topics.EachPartition(func(p kadm.PartitionDetail) {
			if slices.Contains(p.Replicas, node) {
				left++
			}
		})
		if left == 0 {
			fmt.Fprintf(w, "broker %d holds no replica; it can be stopped\n", node)
			return nil
		}
		if left != last {
			inProgress := 0
			if listed, err := adm.ListPartitionReassignments(ctx, moving); err == nil {
				inProgress = len(listed.Sorted())
			}
			fmt.Fprintf(w, "%d partitions still on broker %d (%d reassignments in progress)\n", left, node, inProgress)
			last = left
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d partitions still on broker %d: %w", left, node, ctx.Err())
		case <-time.After(decommissionPollEvery):
		}
	}
}

// planDecommission returns, per topic and partition, the replicas that
// take node out: node is replaced in place by the broker holding the
// fewest replicas among those not already a replica (lowest id on a tie).
// It fails, planning nothing, if node is not a broker of the cluster or
// if a partition cannot keep its replication factor without node.
func planDecommission(meta kadm.Metadata, node int32) (map[string]map[int32][]int32, error) {
	var others []int32
	known := false
	for _, b := range meta.Brokers {
		if b.NodeID == node {
			known = true
			continue
		}
		others = append(others, b.NodeID)
	}
	if !known {
		return nil, fmt.Errorf("broker %d is not in the cluster", node)
	}
	slices.Sort(others)
	load := map[int32]int{}
	meta.Topics.EachPartition(func(p kadm.PartitionDetail) {
		for _, id := range p.Replicas {
			load[id]++
		}
	})
	var topics []string
	for name := range meta.Topics {
		topics = append(topics, name)
	}
	sort.Strings(topics)
	plan := map[string]map[int32][]int32{}
	for _, name := range topics {
		ps := meta.Topics[name].Partitions.Sorted()
		for _, p := range ps {
			i := slices.Index(p.Replicas, node)
			if i < 0 {
				continue
			}
			best := int32(-1)
			for _, id := range others {
				if !slices.Contains(p.Replicas, id) && (best < 0 || load[id] < load[best]) {
					best = id
				}
			}
			if best < 0 {
				return nil, fmt.Errorf("cannot move %s-%d off broker %d: its replication factor %d needs %d brokers besides broker %d; the cluster has %d",
					name, p.Partition, node, len(p.Replicas), len(p.Replicas), node, len(others))
			}
			load[best]++
			replicas := slices.Clone(p.Replicas)
			replicas[i] = best
			if plan[name] == nil {
				plan[name] = map[int32][]int32{}
			}
			plan[name][p.Partition] = replicas
		}
	}
	return plan, nil
}
