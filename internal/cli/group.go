// sluice group: list, describe (with lag), seek and delete consumer groups
// through ListGroups, DescribeGroups, OffsetFetch, ListOffsets,
// OffsetCommit and DeleteGroups.

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func groupCommand() *cobra.Command {
	f := &adminFlags{}
	cmd := newAdminParent("group", "List, describe, seek and delete consumer groups", f)
	cmd.AddCommand(
		groupListCommand(f),
		groupDescribeCommand(f),
		groupSeekCommand(f),
		groupDeleteCommand(f),
	)
	return cmd
}

// groupMissing reports whether a described group does not exist: Kafka
// answers DescribeGroups for an unknown group with state Dead (before v6)
// or GROUP_ID_NOT_FOUND.
func groupMissing(l kadm.DescribedGroupLag) bool {
	if errors.Is(l.DescribeErr, kerr.GroupIDNotFound) {
		return true
	}
	return l.DescribeErr == nil && l.State == "Dead" && len(l.Members) == 0 && len(l.Lag.Sorted()) == 0
}

func groupListCommand(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups with their state, members and total lag",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, listGroups)
		},
	}
}

// listGroups prints every group the brokers that answered know, with its
// lag; a broker that did not answer leaves its groups out.
func listGroups(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
	listed, err := cl.adm.ListGroups(ctx)
	if err != nil && !isShardError(err) {
		return err
	}
	var lags kadm.DescribedGroupLags
	if len(listed) > 0 {
		if lags, err = cl.adm.Lag(ctx, listed.Groups()...); err != nil {
			return err
		}
	}
	return printGroupList(w, asJSON, listed, lags)
}

type listedGroupJSON struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
	Coordinator  int32  `json:"coordinator"`
	TotalLag     int64  `json:"total_lag"` // -1 if unknown
}

func printGroupList(w io.Writer, asJSON bool, listed kadm.ListedGroups, lags kadm.DescribedGroupLags) error {
	out := []listedGroupJSON{}
	for _, g := range listed.Sorted() {
		row := listedGroupJSON{Group: g.Group, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator, TotalLag: -1}
		if l, ok := lags[g.Group]; ok {
			if l.State != "" {
				row.State = l.State
			}
			row.Members = len(l.Members)
			if l.Error() == nil {
				row.TotalLag = l.Lag.Total()
			}
		}
		out = append(out, row)
	}
	if asJSON {
		return printJSON(w, out)
	}
	tw := newTable(w)
	row(tw, "GROUP", "STATE", "MEMBERS", "PROTOCOL-TYPE", "TOTAL-LAG")
	for _, g := range out {
		row(tw, g.Group, orDash(g.State), g.Members, orDash(g.ProtocolType), offsetOrDash(g.TotalLag))
	}
	return tw.Flush()
}

func groupDescribeCommand(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "describe GROUP...",
		Short:             "Show a group's members, committed offsets and lag per partition",
		Args:              needArgs(1, -1, "group name"),
		ValidArgsFunction: completeGroups(&f.client),
		RunE: func(cmd *cobra.Command, groups []string) error {
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return showGroups(ctx, cl, w, asJSON, groups)
			})
		},
	}
}

// showGroups prints each group's members, committed offsets and lag.
func showGroups(ctx context.Context, cl *client, w io.Writer, asJSON bool, groups []string) error {
	lags, err := cl.adm.Lag(ctx, groups...)
	if err != nil {
		return err
	}
	described, err := describeGroups(groups, lags)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, described)
	}
	printGroupDescriptions(w, described)
	return nil
}

// describeGroups returns the groups in the order given, or one sentence
// for the first that does not exist or could not be described.
func describeGroups(groups []string, lags kadm.DescribedGroupLags) ([]describedGroup, error) {
	var described []describedGroup
	for _, g := range groups {
		l, ok := lags[g]
		if !ok || groupMissing(l) {
			return nil, errNoGroup(g)
		}
		if err := l.Error(); err != nil {
			return nil, fmt.Errorf("cannot describe group %q: %s", g, kafkaReason(err, ""))
		}
		described = append(described, newDescribedGroup(l))
	}
	return described, nil
}

// describedGroup is group describe's output; the JSON form is this struct.
type describedGroup struct {
	Group        string           `json:"group"`
	State        string           `json:"state"`
	ProtocolType string           `json:"protocol_type"`
	Protocol     string           `json:"protocol"`
	Coordinator  string           `json:"coordinator"`
	Members      int              `json:"members"`
	TotalLag     int64            `json:"total_lag"`
	Partitions   []groupPartition `json:"partitions"`
}

// groupPartition is one row of the familiar kafka-consumer-groups table;
// a member with no partitions has a row with an empty topic.
type groupPartition struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset int64  `json:"current_offset"`  // -1: no commit
	LogEndOffset  int64  `json:"log_end_offset"`  // -1: unknown
	Lag           int64  `json:"lag"`             // -1: unknown
	ConsumerID    string `json:"consumer_id"`     // "" when unassigned
	Host          string `json:"host"`            //
	ClientID      string `json:"client_id"`       //
	Error         string `json:"error,omitempty"` //
}

func newDescribedGroup(l kadm.DescribedGroupLag) describedGroup {
	d := describedGroup{
		Group:        l.Group,
		State:        l.State,
		ProtocolType: l.ProtocolType,
		Protocol:     l.Protocol,
		Coordinator:  fmt.Sprintf("%d (%s:%d)", l.Coordinator.NodeID, l.Coordinator.Host, l.Coordinator.Port),
		Members:      len(l.Members),
		TotalLag:     l.Lag.Total(),
		Partitions:   []groupPartition{},
	}
	withPartitions := map[string]bool{}
	for _, m := range l.Lag.Sorted() {
		p := groupPartition{
			Topic:         m.Topic,
			Partition:     m.Partition,
			CurrentOffset: m.Commit.At,
			LogEndOffset:  -1,
			Lag:           m.Lag,
		}
		if m.End.Err == nil {
			p.LogEndOffset = m.End.Offset
		}
		if m.Member != nil {
			p.ConsumerID, p.Host, p.ClientID = m.Member.MemberID, m.Member.ClientHost, m.Member.ClientID
			withPartitions[m.Member.MemberID] = true
		}
		if m.Err != nil {
			p.Error = kafkaReason(m.Err, "")
		}
		d.Partitions = append(d.Partitions, p)
	}
	for _, m := range l.Members {
		if !withPartitions[m.MemberID] {
			d.Partitions = append(d.Partitions, groupPartition{
				Partition: -1, CurrentOffset: -1, LogEndOffset: -1, Lag: -1,
				ConsumerID: m.MemberID, Host: m.ClientHost, ClientID: m.ClientID,
			})
		}
	}
	return d
}

func printGroupDescriptions(w io.Writer, groups []describedGroup) {
	for i, g := range groups {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := newTable(w)
		row(tw, "GROUP", g.Group)
		row(tw, "STATE", orDash(g.State))
		row(tw, "PROTOCOL", orDash(g.ProtocolType)+"/"+orDash(g.Protocol))
		row(tw, "COORDINATOR", g.Coordinator)
		row(tw, "MEMBERS", g.Members)
		row(tw, "TOTAL-LAG", g.TotalLag)
		tw.Flush()
		fmt.Fprintln(w)
		tw = newTable(w)
		row(tw, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
		for _, p := range g.Partitions {
			partition := "-"
			if p.Partition >= 0 {
				partition = fmt.Sprint(p.Partition)
			}
			cells := []any{g.Group, orDash(p.Topic), partition, offsetOrDash(p.CurrentOffset), offsetOrDash(p.LogEndOffset),
				offsetOrDash(p.Lag), orDash(p.ConsumerID), orDash(p.Host), orDash(p.ClientID)}
			if p.Error != "" {
				cells = append(cells, p.Error)
			}
			row(tw, cells...)
		}
		tw.Flush()
	}
}

func groupDeleteCommand(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "delete GROUP...",
		Aliases:           []string{"rm"},
		Short:             "Delete groups and their committed offsets (the groups must have no members)",
		Args:              needArgs(1, -1, "group name"),
		ValidArgsFunction: completeGroups(&f.client),
		RunE: func(cmd *cobra.Command, groups []string) error {
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return deleteGroups(ctx, cl, w, asJSON, groups)
			})
		},
	}
}

// deleteGroups deletes groups and prints each outcome; a coordinator that
// did not answer fails only its own groups.
func deleteGroups(ctx context.Context, cl *client, w io.Writer, asJSON bool, groups []string) error {
	resps, err := cl.adm.DeleteGroups(ctx, groups...)
	if err != nil && !isShardError(err) {
		return err
	}
	return printDeletedGroups(w, asJSON, groups, resps)
}

// deletedGroup is one row of group delete's output.
type deletedGroup struct {
	Group string `json:"group"`
	Error string `json:"error,omitempty"`
}

// deletedGroups pairs each group with its outcome, in the order given,
// and returns the failures as sentences.
func deletedGroups(groups []string, resps kadm.DeleteGroupResponses) (out []deletedGroup, failures []string) {
	for _, g := range groups {
		r, ok := resps[g]
		d := deletedGroup{Group: g}
		switch {
		case !ok:
			d.Error = fmt.Sprintf("cannot delete group %q: its coordinator did not answer", g)
		case errors.Is(r.Err, kerr.GroupIDNotFound):
			d.Error = errNoGroup(g).Error()
		case errors.Is(r.Err, kerr.NonEmptyGroup):
			d.Error = fmt.Sprintf("group %q still has members; stop its consumers before deleting it", g)
		case r.Err != nil:
			d.Error = fmt.Sprintf("cannot delete group %q: %s", g, kafkaReason(r.Err, r.ErrMessage))
		}
		if d.Error != "" {
			failures = append(failures, d.Error)
		}
		out = append(out, d)
	}
	return out, failures
}

func printDeletedGroups(w io.Writer, asJSON bool, groups []string, resps kadm.DeleteGroupResponses) error {
	out, failures := deletedGroups(groups, resps)
	if asJSON {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else if len(failures) < len(groups) {
		tw := newTable(w)
		row(tw, "GROUP", "STATUS")
		for _, d := range out {
			if d.Error == "" {
				row(tw, d.Group, "deleted")
			}
		}
		tw.Flush()
	}
	return joinFailures("deleting groups:", len(groups), failures)
}
