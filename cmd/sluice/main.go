// Command sluice is a Kafka-compatible streaming broker and its command
// line tools in one binary. This package holds only main and the wiring of
// `sluice serve` to internal/broker and internal/config; the Kafka-client
// subcommands (topic, produce, consume, group, cluster) live in
// internal/cli and the load generator (bench) in internal/bench, which do
// not depend on the broker.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/bench"
	"github.com/sluice-dev/sluice/internal/cli"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

// newRootCommand assembles the command tree. Errors are returned, not
// printed, so that main prints each as one "sluice: ..." line.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "A Kafka-compatible streaming platform in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), bench.Command())
	root.AddCommand(cli.Commands()...)
	cli.RequireSubcommands(root)
	return root
}
