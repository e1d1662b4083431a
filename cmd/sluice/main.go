// Command sluice is a Kafka-compatible streaming broker and its command
// line tools in one binary.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// commands are the subcommands; each file registers its own in init, so
// adding a command touches no other file.
var commands []func() *cobra.Command

func main() {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "A Kafka-compatible streaming platform in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, c := range commands {
		root.AddCommand(c())
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}
