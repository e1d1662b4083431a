// sluice group seek: reset a group's committed offsets, as Kafka's
// kafka-consumer-groups --reset-offsets --execute does. Like Kafka, only a
// group without members can be reset: a running member would overwrite
// the new offsets with its next commit.

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// seekTarget is where group seek moves offsets.
type seekTarget struct {
	earliest, latest bool
	timestampMs      int64 // -1: not given
	offset           int64 // -1: not given
}

func groupSeekCommand(f *adminFlags) *cobra.Command {
	target := seekTarget{timestampMs: -1, offset: -1}
	var topics []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "seek GROUP (--to-earliest | --to-latest | --to-timestamp UNIX_MS | --to-offset OFFSET)",
		Short: "Move a group's committed offsets; the group must have no members",
		Long: `Move a group's committed offsets. Without --topic, every partition the group
has committed is moved; with --topic, every partition of the named topics.
The group must have no active members (stop its consumers first), as Kafka
requires. --to-offset is bounded to each partition's log start and end.`,
		Example: `  sluice group seek billing --to-earliest
  sluice group seek billing --to-timestamp 1700000000000 --topic orders`,
		Args:              needArgs(1, 1, "group name"),
		ValidArgsFunction: completeGroups(&f.client),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := target.check(cmd.Flags().Changed("to-timestamp"), cmd.Flags().Changed("to-offset"))
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return seek(ctx, cl, w, asJSON, args[0], topics, target, dryRun)
			})
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&target.earliest, "to-earliest", false, "move to the log start of each partition")
	fs.BoolVar(&target.latest, "to-latest", false, "move to the end of each partition")
	fs.Int64Var(&target.timestampMs, "to-timestamp", -1, "move to the first record at or after this Unix time in milliseconds")
	fs.Int64Var(&target.offset, "to-offset", -1, "move to this offset in every partition")
	fs.StringArrayVarP(&topics, "topic", "t", nil, "move every partition of this topic (repeatable; default: the partitions the group committed)")
	fs.BoolVar(&dryRun, "dry-run", false, "show the new offsets without committing them")
	cmd.MarkFlagsMutuallyExclusive("to-earliest", "to-latest", "to-timestamp", "to-offset")
	cmd.MarkFlagsOneRequired("to-earliest", "to-latest", "to-timestamp", "to-offset")
	return cmd
}

// check rejects a negative --to-timestamp or --to-offset that was given;
// cobra has checked that exactly one target flag was.
func (t seekTarget) check(timestampGiven, offsetGiven bool) error {
	if timestampGiven && t.timestampMs < 0 {
		return fmt.Errorf("--to-timestamp must be a Unix time in milliseconds, not %d", t.timestampMs)
	}
	if offsetGiven && t.offset < 0 {
		return fmt.Errorf("--to-offset must not be negative, not %d", t.offset)
	}
	return nil
}

// seek moves the group's offsets (only plans the move with dryRun) and
// prints each partition's move.
func seek(ctx context.Context, cl *client, w io.Writer, asJSON bool, group string, topics []string, target seekTarget, dryRun bool) error {
	moves, err := planSeek(ctx, cl, group, topics, target)
	if err != nil {
		return err
	}
	if !dryRun {
		if err := commitSeek(ctx, cl, group, moves); err != nil {
			return err
		}
	}
	return printSeek(w, asJSON, group, moves, dryRun)
}

// seekMove is one partition's offset before and after.
type seekMove struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Previous  int64  `json:"previous_offset"` // -1: no commit
	New       int64  `json:"new_offset"`
}

// planSeek checks the group is inactive and computes the new offsets.
func planSeek(ctx context.Context, cl *client, group string, topics []string, target seekTarget) ([]seekMove, error) {
	described, err := cl.adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	if d, ok := described[group]; ok && d.Err == nil && len(d.Members) > 0 {
		return nil, fmt.Errorf("group %q has %s (state %s); stop its consumers before seeking", group, plural(len(d.Members), "active member"), d.State)
	}
	committed, err := cl.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("cannot read the offsets of group %q: %s", group, kafkaReason(err, ""))
	}
	partitions := kadm.TopicsSet{}
	if len(topics) > 0 {
		details, err := cl.lookupTopics(ctx, topics...)
		if err != nil {
			return nil, err
		}
		partitions = details.TopicsSet()
	} else {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				partitions.Add(o.Topic, o.Partition)
			}
		})
	}
	if len(partitions) == 0 {
		return nil, fmt.Errorf("group %q has no committed offsets; name the topics to seek with --topic", group)
	}
	newOffsets, err := seekOffsets(ctx, cl.adm, partitions.Topics(), target)
	if err != nil {
		return nil, err
	}
	return seekMoves(partitions, committed, newOffsets)
}

// seekMoves pairs each partition's committed offset (-1 without a commit)
// with its new one, sorted by topic and partition, or names the first
// partition whose new offset is unknown.
func seekMoves(partitions kadm.TopicsSet, committed kadm.OffsetResponses, newOffsets kadm.ListedOffsets) ([]seekMove, error) {
	var moves []seekMove
	var missing error
	partitions.Each(func(t string, p int32) {
		to, ok := newOffsets.Lookup(t, p)
		if !ok || to.Err != nil {
			if missing == nil {
				missing = fmt.Errorf("cannot list the offsets of topic %q partition %d: %s", t, p, kafkaReason(orMissing(to.Err), ""))
			}
			return
		}
		previous := int64(-1)
		if c, ok := committed.Lookup(t, p); ok && c.Err == nil {
			previous = c.At
		}
		moves = append(moves, seekMove{Topic: t, Partition: p, Previous: previous, New: to.Offset})
	})
	if missing != nil {
		return nil, missing
	}
	sortMoves(moves)
	return moves, nil
}

func orMissing(err error) error {
	if err == nil {
		return errors.New("the partition's leader did not answer")
	}
	return err
}

// seekOffsets lists the target offset of every partition of topics.
func seekOffsets(ctx context.Context, adm *kadm.Client, topics []string, target seekTarget) (kadm.ListedOffsets, error) {
	switch {
	case target.earliest:
		return adm.ListStartOffsets(ctx, topics...)
	case target.latest:
		return adm.ListEndOffsets(ctx, topics...)
	case target.timestampMs >= 0:
		return adm.ListOffsetsAfterMilli(ctx, target.timestampMs, topics...)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	boundOffset(target.offset, starts, ends)
	return ends, nil
}

// boundOffset sets every partition of ends to offset bounded by the
// partition's log start and end, as Kafka's tool does; partitions with an
// error keep it.
func boundOffset(offset int64, starts, ends kadm.ListedOffsets) {
	for t, ps := range ends {
		for p, end := range ps {
			if start, ok := starts.Lookup(t, p); ok && start.Err == nil && end.Err == nil {
				end.Offset = min(max(offset, start.Offset), end.Offset)
				ps[p] = end
			}
		}
	}
}

func sortMoves(moves []seekMove) {
	sort.Slice(moves, func(i, j int) bool {
		if moves[i].Topic != moves[j].Topic {
			return moves[i].Topic < moves[j].Topic
		}
		return moves[i].Partition < moves[j].Partition
	})
}

func commitSeek(ctx context.Context, cl *client, group string, moves []seekMove) error {
	offsets := kadm.Offsets{}
	for _, m := range moves {
		offsets.AddOffset(m.Topic, m.Partition, m.New, -1)
	}
	resps, err := cl.adm.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return fmt.Errorf("cannot commit the offsets of group %q: %s", group, kafkaReason(err, ""))
	}
	var first error
	resps.EachError(func(o kadm.OffsetResponse) {
		if first == nil {
			first = fmt.Errorf("cannot commit the offset of group %q for topic %q partition %d: %s", group, o.Topic, o.Partition, kafkaReason(o.Err, ""))
		}
	})
	return first
}

func printSeek(w io.Writer, asJSON bool, group string, moves []seekMove, dryRun bool) error {
	if asJSON {
		return printJSON(w, moves)
	}
	tw := newTable(w)
	header := "NEW-OFFSET"
	if dryRun {
		header = "NEW-OFFSET (DRY RUN)"
	}
	row(tw, "GROUP", "TOPIC", "PARTITION", "PREVIOUS-OFFSET", header)
	for _, m := range moves {
		row(tw, group, m.Topic, m.Partition, offsetOrDash(m.Previous), m.New)
	}
	return tw.Flush()
}
