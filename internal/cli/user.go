// sluice user: create, list and delete SCRAM users (SCRAM-SHA-256,
// SCRAM-SHA-512) through AlterUserScramCredentials and
// DescribeUserScramCredentials, as rpk acl user and kafka-configs
// --entity-type users do. The password is salted on this side (kadm:
// a random salt, PBKDF2); only the salt and the salted password travel.

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Iteration bounds Kafka accepts for a SCRAM credential, and the count
// used unless --iterations says otherwise (Kafka's default is 4096;
// twice that costs a login little).
const (
	scramIterationsMin     = 4096
	scramIterationsMax     = 16384
	scramIterationsDefault = 8192
)

func userCommand() *cobra.Command {
	f := &adminFlags{}
	cmd := newAdminParent("user", "Create, list and delete SCRAM users", f)
	cmd.AddCommand(userCreateCommand(f), userListCommand(f), userDeleteCommand(f))
	return cmd
}

// parseMechanism reads a --mechanism value: SCRAM-SHA-256 or
// SCRAM-SHA-512, any case.
func parseMechanism(s string) (kadm.ScramMechanism, error) {
	switch strings.ToUpper(s) {
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, nil
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, nil
	}
	return 0, fmt.Errorf("--mechanism %q is not SCRAM-SHA-256 or SCRAM-SHA-512", s)
}

// userCreate is what `user create` asks.
type userCreate struct {
	user, password, mechanism string
	iterations                int32
}

// upsert checks the flags and returns the credential to set.
func (u *userCreate) upsert() (kadm.UpsertSCRAM, error) {
	mech, err := parseMechanism(u.mechanism)
	if err != nil {
		return kadm.UpsertSCRAM{}, err
	}
	switch {
	case u.user == "":
		return kadm.UpsertSCRAM{}, errors.New("the user name must not be empty")
	case u.password == "":
		return kadm.UpsertSCRAM{}, errors.New("--password is required and must not be empty")
	case u.iterations < scramIterationsMin || u.iterations > scramIterationsMax:
		return kadm.UpsertSCRAM{}, fmt.Errorf("--iterations %d is outside %d..%d, the range Kafka accepts", u.iterations, scramIterationsMin, scramIterationsMax)
	}
	return kadm.UpsertSCRAM{User: u.user, Mechanism: mech, Iterations: u.iterations, Password: u.password}, nil
}

func userCreateCommand(f *adminFlags) *cobra.Command {
	u := &userCreate{}
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Create a SCRAM user, or change its password for the mechanism",
		Args:  needArgs(1, 1, "user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			u.user = args[0]
			up, err := u.upsert()
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				res, err := cl.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{up})
				if err := alterFailure("create", up.User, res, err); err != nil {
					return err
				}
				return printUserChange(w, asJSON, up.User, up.Mechanism.String(), "created")
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&u.password, "password", "", "the user's password (required)")
	fs.StringVar(&u.mechanism, "mechanism", "SCRAM-SHA-256", "SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.Int32Var(&u.iterations, "iterations", scramIterationsDefault, "PBKDF2 iterations, 4096..16384")
	return withFlagHelp(cmd)
}

// alterFailure is the one sentence for a failed create or delete of
// user, nil when it succeeded.
func alterFailure(verb, user string, res kadm.AlteredUserSCRAMs, err error) error {
	if err == nil {
		if r, ok := res[user]; !ok {
			err = errors.New("the broker did not answer for the user")
		} else if r.Err != nil {
			err = errors.New(kafkaReason(r.Err, r.ErrMessage))
		}
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.UnsupportedVersion) {
		return fmt.Errorf("cannot %s user %q: the broker does not support SCRAM credential APIs", verb, user)
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return fmt.Errorf("cannot %s user %q: %s", verb, user, kafkaReason(err, ""))
	}
	return fmt.Errorf("cannot %s user %q: %w", verb, user, err)
}

// userChange is one line of create's and delete's output.
type userChange struct {
	User      string `json:"user"`
	Mechanism string `json:"mechanism"`
	Status    string `json:"status"`
}

// printUserChange prints that user's mechanism was created or deleted.
func printUserChange(w io.Writer, asJSON bool, user, mechanism, status string) error {
	if asJSON {
		return printJSON(w, userChange{User: user, Mechanism: mechanism, Status: status})
	}
	_, err := fmt.Fprintf(w, "%s %s for user %s\n", status, mechanism, user)
	return err
}

func userListCommand(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List SCRAM users with their mechanisms and iterations",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				users, err := cl.adm.DescribeUserSCRAMs(ctx)
				if err != nil {
					return fmt.Errorf("cannot list users: %s", kafkaReason(err, ""))
				}
				return printUsers(w, asJSON, users)
			})
		},
	}
}

// listedUser is one user in list's output.
type listedUser struct {
	User       string           `json:"user"`
	Mechanisms []listedUserMech `json:"mechanisms"`
}

// listedUserMech is one of a user's mechanisms.
type listedUserMech struct {
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

// printUsers prints users sorted by name.
func printUsers(w io.Writer, asJSON bool, users kadm.DescribedUserSCRAMs) error {
	out := []listedUser{}
	for _, u := range users.Sorted() {
		l := listedUser{User: u.User, Mechanisms: []listedUserMech{}}
		for _, c := range u.CredInfos {
			l.Mechanisms = append(l.Mechanisms, listedUserMech{Mechanism: c.Mechanism.String(), Iterations: c.Iterations})
		}
		out = append(out, l)
	}
	if asJSON {
		return printJSON(w, out)
	}
	tw := newTable(w)
	row(tw, "USER", "MECHANISMS")
	for _, u := range out {
		var mechs []string
		for _, m := range u.Mechanisms {
			mechs = append(mechs, fmt.Sprintf("%s (%d iterations)", m.Mechanism, m.Iterations))
		}
		row(tw, u.User, strings.Join(mechs, ", "))
	}
	return tw.Flush()
}

func userDeleteCommand(f *adminFlags) *cobra.Command {
	var mechanism string
	cmd := &cobra.Command{
		Use:     "delete USER",
		Aliases: []string{"rm"},
		Short:   "Delete a SCRAM user's credential for one mechanism, or for all of them",
		Args:    needArgs(1, 1, "user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			user := args[0]
			var mechs []kadm.ScramMechanism
			if mechanism != "" {
				m, err := parseMechanism(mechanism)
				if err != nil {
					return err
				}
				mechs = append(mechs, m)
			}
			return f.run(cmd, func(ctx context.Context, cl *client, w io.Writer, asJSON bool) error {
				return deleteUser(ctx, cl, w, asJSON, user, mechs)
			})
		},
	}
	cmd.Flags().StringVar(&mechanism, "mechanism", "", "SCRAM-SHA-256 or SCRAM-SHA-512 (default: every mechanism the user has)")
	return withFlagHelp(cmd)
}

// deleteUser deletes user's credentials for mechs, or for every
// mechanism the user has when mechs is empty.
func deleteUser(ctx context.Context, cl *client, w io.Writer, asJSON bool, user string, mechs []kadm.ScramMechanism) error {
	if len(mechs) == 0 {
		described, err := cl.adm.DescribeUserSCRAMs(ctx, user)
		if err == nil {
			err = described[user].Err
		}
		if errors.Is(err, kerr.ResourceNotFound) {
			return fmt.Errorf("user %q does not exist", user)
		}
		if err != nil {
			return fmt.Errorf("cannot delete user %q: %s", user, kafkaReason(err, described[user].ErrMessage))
		}
		for _, c := range described[user].CredInfos {
			mechs = append(mechs, c.Mechanism)
		}
	}
	var dels []kadm.DeleteSCRAM
	for _, m := range mechs {
		dels = append(dels, kadm.DeleteSCRAM{User: user, Mechanism: m})
	}
	res, err := cl.adm.AlterUserSCRAMs(ctx, dels, nil)
	if r := res[user]; err == nil && errors.Is(r.Err, kerr.ResourceNotFound) {
		return fmt.Errorf("user %q has no %s credential", user, mechs[0])
	}
	if err := alterFailure("delete", user, res, err); err != nil {
		return err
	}
	for _, m := range mechs {
		if err := printUserChange(w, asJSON, user, m.String(), "deleted"); err != nil {
			return err
		}
	}
	return nil
}
