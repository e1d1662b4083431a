package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// RequireSubcommands makes every command of the tree under root that only
// groups subcommands (root, topic, group, cluster, bench, completion, ...)
// fail on an unknown subcommand with one sentence, such as `unknown
// command "nosuch" for "sluice cluster"`, so that a script can tell a typo
// from success: cobra alone prints such a parent's help and exits 0.
//
// A parent run with no subcommand still prints its help on stdout and
// succeeds, as cobra does by default and as `git remote`-style tools do:
// asking what a group of commands offers is not a mistake. Call this after
// every command was added.
func RequireSubcommands(root *cobra.Command) {
	// cobra adds its completion command when executing; add it now so
	// that it is covered too.
	root.InitDefaultCompletionCmd()
	requireSubcommands(root)
}

func requireSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		requireSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = rejectArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	// A parent's flags are parsed before its arguments are checked, so
	// `sluice cluster nosuch -b host` would fail on -b; name the unknown
	// command first, as cobra does for the root. Subcommands inherit
	// this function, so it hands their errors on unchanged.
	next := cmd.FlagErrorFunc()
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if args := c.Flags().Args(); c == cmd && len(args) > 0 {
			return unknownCommand(c, args[0])
		}
		return next(c, err)
	})
}

// suggestionDistanceMax is how many edits away a known command name may
// be to be suggested: cobra's own default.
const suggestionDistanceMax = 2

// rejectArgs is the Args check of a command that only groups subcommands:
// cobra gets here when the first argument names none of them.
func rejectArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return nil
}

// unknownCommand is the one sentence for an unknown subcommand name,
// naming the closest known one when cobra finds it.
func unknownCommand(cmd *cobra.Command, name string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = suggestionDistanceMax
	}
	if s := cmd.SuggestionsFor(name); name != "" && !cmd.DisableSuggestions && len(s) > 0 {
		return fmt.Errorf("unknown command %q for %q; did you mean %q?", name, cmd.CommandPath(), s[0])
	}
	return fmt.Errorf("unknown command %q for %q", name, cmd.CommandPath())
}
