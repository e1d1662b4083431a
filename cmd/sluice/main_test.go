package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// execute runs the real command tree in process with args.
func execute(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	if errOut.Len() > 0 {
		t.Fatalf("sluice %s wrote to stderr itself (main prints errors): %q", strings.Join(args, " "), errOut.String())
	}
	return out.String(), err
}

// TestUnknownSubcommand walks the real tree: every command that groups
// subcommands rejects an unknown one with one sentence instead of printing
// its help and succeeding.
func TestUnknownSubcommand(t *testing.T) {
	var parents []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			parents = append(parents, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRootCommand()
	root.InitDefaultHelpCmd()
	walk(root)
	for _, want := range []string{"sluice", "sluice topic", "sluice group", "sluice cluster", "sluice bench", "sluice completion"} {
		if !strings.Contains(strings.Join(parents, "|")+"|", want+"|") {
			t.Fatalf("parents %q miss %q", parents, want)
		}
	}
	for _, path := range parents {
		args := append(strings.Fields(path)[1:], "nosuch")
		out, err := execute(t, args...)
		want := `unknown command "nosuch" for "` + path + `"`
		if err == nil || err.Error() != want {
			t.Errorf("sluice %s: error %v, want %q", strings.Join(args, " "), err, want)
		}
		if out != "" {
			t.Errorf("sluice %s printed %q, want nothing on stdout", strings.Join(args, " "), out)
		}
	}
}

func TestParentCommands(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string // "" for success
		wantOut string // a line the output must contain
	}{
		// A parent alone prints its help and succeeds.
		{args: nil, wantOut: "Available Commands:"},
		{args: []string{"cluster"}, wantOut: "sluice cluster [command]"},
		{args: []string{"bench"}, wantOut: "sluice bench [command]"},
		{args: []string{"topic", "--help"}, wantOut: "sluice topic [command]"},
		// A typo names the closest command in the same sentence.
		{args: []string{"topc"}, wantErr: `unknown command "topc" for "sluice"; did you mean "topic"?`},
		{args: []string{"topic", "lst"}, wantErr: `unknown command "lst" for "sluice topic"; did you mean "list"?`},
		{args: []string{"cluster", "helth"}, wantErr: `unknown command "helth" for "sluice cluster"; did you mean "health"?`},
		// Flags after an unknown command do not hide it.
		{args: []string{"nosuch", "-b", "127.0.0.1:1"}, wantErr: `unknown command "nosuch" for "sluice"`},
		{args: []string{"cluster", "nosuch", "-b", "127.0.0.1:1"}, wantErr: `unknown command "nosuch" for "sluice cluster"`},
		{args: []string{"bench", "nosuch", "--topic", "t"}, wantErr: `unknown command "nosuch" for "sluice bench"`},
		// Flag and argument errors of real commands are unchanged.
		{args: []string{"--bogus"}, wantErr: "unknown flag: --bogus"},
		{args: []string{"cluster", "--bogus"}, wantErr: "unknown flag: --bogus (see 'sluice cluster --help')"},
		{args: []string{"topic", "create"}, wantErr: "'sluice topic create' needs a topic name"},
		{args: []string{"topic", "ls", "extra"}, wantErr: `unknown command "extra" for "sluice topic list"`},
	} {
		out, err := execute(t, tc.args...)
		name := "sluice " + strings.Join(tc.args, " ")
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("%s: error %v, want %q", name, err, tc.wantErr)
		case !strings.Contains(out, tc.wantOut):
			t.Errorf("%s printed %q, want it to contain %q", name, out, tc.wantOut)
		}
	}
}
