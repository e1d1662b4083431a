// Package cli holds sluice's Kafka-client subcommands: topic, produce,
// consume, group, cluster and user. They speak the Kafka protocol through
// franz-go's kgo and kadm only, so they work against any Kafka-compatible
// broker, not only sluice; the package must not import the broker's
// internals (internal/broker, handler, log, replica, metadata, ...).
//
// Each command is a cobra.Command whose RunE only wires flags to plain
// functions: parsing and checks of flags (parseStartOffset, parseAlters,
// parseCreate, seekTarget.check, producerOpts), plans computed from the
// brokers' answers (seekMoves, remainingPartitions, checkHealth) and
// printers taking an io.Writer, each with table tests. Clients are built
// by internal/kclient, which internal/bench shares; the files are named
// after the commands (topic.go, group_seek.go, ...), with common.go holding
// the client, the error sentences and the table and JSON printers.
//
// Flags, command names, output formats and error sentences are promises to
// users' scripts: test/e2e/cli_test.go runs the built binary against a
// broker and checks them. Every error is one sentence, printed by main as
// "sluice: <sentence>" with a non-zero exit; RequireSubcommands makes an
// unknown subcommand such an error too.
package cli

import "github.com/spf13/cobra"

// Commands returns the client subcommands, for the root command to add.
func Commands() []*cobra.Command {
	return []*cobra.Command{
		topicCommand(),
		produceCommand(),
		consumeCommand(),
		groupCommand(),
		clusterCommand(),
		userCommand(),
	}
}
