// The client commands (topic, produce, consume, group, cluster) speak the
// Kafka protocol through franz-go's kgo and kadm, so they work against any
// Kafka-compatible broker, not only sluice. This file holds what they
// share: the connection flags, one client per run that remembers whether
// any broker ever answered (so "unreachable" is told apart from "slow"),
// the translation of Kafka error codes into one sentence, and the table and
// JSON printers.

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/kclient"
)

const (
	defaultTimeout = 10 * time.Second
	// completionTimeout bounds the broker lookups behind shell completion:
	// a shell waiting on a Tab must not hang on a dead broker.
	completionTimeout = 2 * time.Second
	clientID          = "sluice-cli"
	// reachPauseMin and reachPauseMax bound the pause between attempts
	// to reach a broker.
	reachPauseMin = 100 * time.Millisecond
	reachPauseMax = time.Second

	formatTable = "table"
	formatJSON  = "json"
)

// clientOptions are the connection flags every client command shares.
type clientOptions struct {
	brokers string
	timeout time.Duration
	// settings are -X key=value client settings: TLS and SASL, named as
	// librdkafka and kcat name them (kclient.SettingKeys).
	settings []string
}

func addClientFlags(fs *pflag.FlagSet, o *clientOptions) {
	fs.StringVarP(&o.brokers, "brokers", "b", "",
		"comma-separated broker addresses (default $"+kclient.BrokersEnv+", else "+kclient.DefaultBrokers+")")
	fs.StringArrayVarP(&o.settings, "setting", "X", nil,
		"client setting key=value, as kcat's -X: security.protocol, sasl.mechanism, sasl.username, sasl.password, ssl.ca.location, ssl.certificate.location, ssl.key.location; repeatable; also from $"+kclient.SettingsEnvPrefix+"<KEY> (e.g. $SLUICE_SASL_PASSWORD)")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout,
		"how long to keep trying to reach a broker, and to wait for each answer")
}

// seeds returns the bootstrap addresses: the flag, else the environment,
// else the local default.
func (o *clientOptions) seeds() ([]string, error) {
	seeds := kclient.SplitBrokers(kclient.Brokers(o.brokers))
	if len(seeds) == 0 {
		return nil, fmt.Errorf("no broker address given: set --brokers or $%s", kclient.BrokersEnv)
	}
	return seeds, nil
}

// client is one run's connection to the cluster.
type client struct {
	kgo     *kgo.Client
	adm     *kadm.Client
	seeds   []string
	timeout time.Duration
	dials   *dialTracker
}

// newClient connects lazily (kgo dials on the first request) with every
// wait bounded by --timeout.
func newClient(o *clientOptions, extra ...kgo.Opt) (*client, error) {
	seeds, err := o.seeds()
	if err != nil {
		return nil, err
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, not %s", o.timeout)
	}
	settings, err := kclient.ParseSettings(append(kclient.SettingsEnv(os.LookupEnv), o.settings...))
	if err != nil {
		return nil, fmt.Errorf("-X: %w", err)
	}
	security, err := settings.Options()
	if err != nil {
		return nil, fmt.Errorf("-X: %w", err)
	}
	dials := &dialTracker{}
	cfg := kclient.Config{Seeds: seeds, ClientID: clientID, DialTimeout: o.timeout, Security: security}
	opts := append([]kgo.Opt{
		kgo.RetryTimeout(o.timeout),
		kgo.RequestTimeoutOverhead(o.timeout),
		kgo.WithHooks(dials),
	}, extra...)
	cl, err := kclient.New(cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("bad client settings: %w", err)
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(o.timeout, time.Hour).Milliseconds()))
	return &client{kgo: cl, adm: adm, seeds: seeds, timeout: o.timeout, dials: dials}, nil
}

func (c *client) close() { c.kgo.Close() }

// context bounds one command's requests by --timeout.
func (c *client) context(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, c.timeout)
}

// reach waits until a broker answers, retrying with a growing pause until
// ctx ends: a broker that is still starting is waited for, a dead address
// fails after --timeout.
func (c *client) reach(ctx context.Context) error {
	pause := reachPauseMin
	for {
		err := c.kgo.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, reachPauseMax)
	}
}

// explain turns a transport failure into one sentence: no broker ever
// answered, a broker the cluster advertises cannot be dialed (a wrong
// advertised.listeners), or the cluster did not answer in time. Other
// errors, such as Kafka error codes, are left to the caller, which knows
// what was asked.
func (c *client) explain(err error) error {
	if err == nil {
		return nil
	}
	addr, cause := c.dials.lastFailure()
	switch {
	case !c.dials.connected.Load():
		msg := fmt.Sprintf("cannot reach a broker at %s (tried for %s)", strings.Join(c.seeds, ","), c.timeout)
		if cause != "" {
			msg += ": " + cause
		}
		return errors.New(msg)
	case !isTransportError(err):
		return err
	case addr != "" && slices.Contains(c.seeds, addr):
		return fmt.Errorf("cannot reach the broker at %s (%s)", addr, cause)
	case addr != "":
		return fmt.Errorf("cannot reach the broker at %s that the cluster advertises (%s); check the brokers' advertised.listeners", addr, cause)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrRecordTimeout):
		return fmt.Errorf("the cluster did not answer within %s", c.timeout)
	}
	return err
}

// isTransportError reports whether err is about the network rather than
// an answer, also inside kadm's ShardErrors.
func isTransportError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, kgo.ErrRecordTimeout) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// dialTracker is a kgo hook remembering whether any connection succeeded
// and the last failed dial, for explain.
type dialTracker struct {
	connected atomic.Bool

	mu       sync.Mutex
	failAddr string // guarded by mu
	failErr  error  // guarded by mu
}

var _ kgo.HookBrokerConnect = (*dialTracker)(nil)

func (d *dialTracker) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		d.connected.Store(true)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failAddr = net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	d.failErr = err
}

// lastFailure returns the address and the innermost cause of the last
// failed dial, such as "connection refused", or empty strings.
func (d *dialTracker) lastFailure() (addr, cause string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failErr == nil {
		return "", ""
	}
	var sys *os.SyscallError
	var dns *net.DNSError
	switch {
	case errors.As(d.failErr, &dns):
		cause = dns.Error()
	case errors.As(d.failErr, &sys):
		cause = sys.Err.Error()
	case errors.Is(d.failErr, os.ErrDeadlineExceeded):
		cause = "no answer"
	default:
		cause = d.failErr.Error()
	}
	return d.failAddr, cause
}

// kafkaReason renders a Kafka error code as a clause: the broker's own
// message when it sent one, else the code's description, followed by the
// code's name, e.g. "topic with this name already exists
// (TOPIC_ALREADY_EXISTS)". Other errors are returned as they are.
func kafkaReason(err error, brokerMessage string) string {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return err.Error()
	}
	// Some brokers repeat the code and its description in the message
	// ("INVALID_PARTITIONS: Number of partitions is below 1.: topic ...");
	// the code is named once at the end anyway.
	text := strings.TrimSpace(brokerMessage)
	text = strings.TrimPrefix(text, ke.Message+": ")
	text = strings.TrimPrefix(text, ke.Description+": ")
	if text == "" {
		text = ke.Description
	}
	text = strings.TrimSuffix(lowerFirst(text), ".")
	if text == "" {
		return ke.Message
	}
	return fmt.Sprintf("%s (%s)", text, ke.Message)
}

// lowerFirst lowercases a leading capital unless it starts an acronym.
func lowerFirst(s string) string {
	first, size := utf8.DecodeRuneInString(s)
	next, _ := utf8.DecodeRuneInString(s[size:])
	if unicode.IsUpper(first) && !unicode.IsUpper(next) {
		return string(unicode.ToLower(first)) + s[size:]
	}
	return s
}

// errNoTopic is the one sentence for a missing topic.
func errNoTopic(topic string) error { return fmt.Errorf("topic %q does not exist", topic) }

// errNoGroup is the one sentence for a missing group.
func errNoGroup(group string) error { return fmt.Errorf("group %q does not exist", group) }

// topicError explains a per-topic error from a metadata answer.
func topicError(topic string, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) {
		return errNoTopic(topic)
	}
	return fmt.Errorf("cannot read topic %q: %s", topic, kafkaReason(err, ""))
}

// isShardError reports whether err is kadm's partial failure: some brokers
// answered, others did not.
func isShardError(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

// addFormatFlag adds --format for commands that print a listing.
func addFormatFlag(fs *pflag.FlagSet, format *string) {
	fs.StringVar(format, "format", formatTable, "output format: table or json")
}

func checkFormat(format string) error {
	switch format {
	case formatTable, formatJSON:
		return nil
	}
	return fmt.Errorf("--format must be table or json, not %q", format)
}

// printJSON writes v as indented JSON and a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a writer aligning tab-separated columns; call Flush.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// row writes one tab-separated table line.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	io.WriteString(w, "\n")
}

// humanBytes renders a byte count with a binary unit, e.g. "1.5 KiB".
func humanBytes(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	value, suffix := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		value /= unit
		suffix = s
		if value < unit {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", value, suffix)
}

// int32List renders replica lists as "1,2,3".
func int32List(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	return strings.Join(parts, ",")
}

// plural renders a count and a noun, e.g. "1 member", "2 members".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// orDash renders unknown values as "-", as Kafka's tools do.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// offsetOrDash renders a negative (unknown) offset as "-".
func offsetOrDash(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

// withFlagHelp makes a bad flag one sentence pointing at --help, for cmd
// and the subcommands that inherit it.
func withFlagHelp(cmd *cobra.Command) *cobra.Command {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see '%s --help')", err, c.CommandPath())
	})
	return cmd
}

// needArgs requires between lo and hi positional arguments (hi < 0: no
// upper bound), named what in the error.
func needArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < lo && lo == 1:
			return fmt.Errorf("'%s' needs a %s", cmd.CommandPath(), what)
		case len(args) < lo:
			return fmt.Errorf("'%s' needs %d arguments: %s", cmd.CommandPath(), lo, what)
		case hi >= 0 && len(args) > hi:
			return fmt.Errorf("'%s' takes at most %d %s, got %d", cmd.CommandPath(), hi, what, len(args))
		}
		return nil
	}
}

// completeTopics offers topic names for shell completion.
func completeTopics(o *clientOptions) cobra.CompletionFunc {
	return completeNames(o, func(ctx context.Context, adm *kadm.Client) ([]string, error) {
		topics, err := adm.ListTopics(ctx)
		return topics.Names(), err
	})
}

// completeGroups offers group names for shell completion.
func completeGroups(o *clientOptions) cobra.CompletionFunc {
	return completeNames(o, func(ctx context.Context, adm *kadm.Client) ([]string, error) {
		groups, err := adm.ListGroups(ctx)
		return groups.Groups(), err
	})
}

func completeNames(o *clientOptions, list func(context.Context, *kadm.Client) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		bounded := *o
		bounded.timeout = min(max(o.timeout, time.Millisecond), completionTimeout)
		cl, err := newClient(&bounded)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer cl.close()
		ctx, cancel := cl.context(cmd.Context())
		defer cancel()
		if cl.reach(ctx) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := list(ctx, cl.adm)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
