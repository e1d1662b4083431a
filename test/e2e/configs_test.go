package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAlterConfigs: IncrementalAlterConfigs sets, appends, subtracts and
// deletes topic overrides, DescribeConfigs reads them back with their
// sources, and a request with one bad change applies none.
func TestAlterConfigs(t *testing.T) {
	b := StartBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := testContext(t, time.Minute)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "cfg"); err != nil {
		t.Fatal(err)
	}
	describe := func() map[string]kadm.Config {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]kadm.Config{}
		for _, c := range rcs[0].Configs {
			out[c.Key] = c
		}
		return out
	}
	alter := func(cs ...kadm.AlterConfig) error {
		t.Helper()
		resps, err := adm.AlterTopicConfigs(ctx, cs, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		return resps[0].Err
	}
	str := func(s string) *string { return &s }

	if err := alter(kadm.AlterConfig{Name: "retention.ms", Value: str("3600000")},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: str("compact")}); err != nil {
		t.Fatalf("alter: %v", err)
	}
	got := describe()
	if c := got["retention.ms"]; c.MaybeValue() != "3600000" || c.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms = %q from %v", c.MaybeValue(), c.Source)
	}
	if c := got["cleanup.policy"]; c.MaybeValue() != "delete,compact" {
		t.Fatalf("cleanup.policy after APPEND = %q", c.MaybeValue())
	}

	// One invalid change: nothing of the request is applied.
	err = alter(kadm.AlterConfig{Name: "retention.ms", Value: str("1")},
		kadm.AlterConfig{Name: "max.message.bytes", Value: str("lots")})
	if !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("bad value: %v, want INVALID_CONFIG", err)
	}
	if c := describe()["retention.ms"]; c.MaybeValue() != "3600000" {
		t.Fatalf("retention.ms %q after a refused request", c.MaybeValue())
	}
	if err := alter(kadm.AlterConfig{Name: "no.such.key", Value: str("1")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("unknown key: %v, want INVALID_CONFIG", err)
	}

	if err := alter(kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: str("delete")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}); err != nil {
		t.Fatalf("subtract/delete: %v", err)
	}
	got = describe()
	if c := got["cleanup.policy"]; c.MaybeValue() != "compact" {
		t.Fatalf("cleanup.policy after SUBTRACT = %q", c.MaybeValue())
	}
	if c := got["retention.ms"]; c.Source.String() != "DEFAULT_CONFIG" || c.MaybeValue() != "604800000" {
		t.Fatalf("retention.ms after DELETE = %q from %v", c.MaybeValue(), c.Source)
	}

	// Broker configs are static: refused with a sentence saying so.
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: str("1")}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(resps[0].Err, kerr.InvalidRequest) || !strings.Contains(resps[0].ErrMessage, "static") {
		t.Fatalf("alter broker config: %v %q", resps[0].Err, resps[0].ErrMessage)
	}

	// Overrides survive a restart.
	b.Stop()
	b.Start()
	restarted := describe()
	if c := restarted["cleanup.policy"]; c.MaybeValue() != "compact" {
		t.Fatalf("cleanup.policy after restart = %q", c.MaybeValue())
	}
}
