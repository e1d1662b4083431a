// Package kclient builds the franz-go clients of sluice's own client
// commands, the CLI (internal/cli) and the load generator (internal/bench),
// so that both find brokers and name the settings the same way: where the
// broker addresses come from (a flag, else $SLUICE_BROKERS, else
// 127.0.0.1:9092), the client id, the dial timeout, and the names of
// compression codecs and acks levels, and the TLS and SASL settings
// (security.go: Kafka's client keys, given as -X key=value as kcat takes
// them).
//
// It owns only client settings: the commands keep their own flags, limits
// and error sentences. It speaks to brokers through kgo alone and must not
// import broker internals, so the tools built on it work against any
// Kafka-compatible broker.
package kclient

import (
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// DefaultBrokers is the address used when neither a flag nor
	// BrokersEnv names one: a broker started by `sluice serve` with no
	// flags.
	DefaultBrokers = "127.0.0.1:9092"
	// BrokersEnv is the environment variable holding comma-separated
	// broker addresses, for scripts that run many commands.
	BrokersEnv = "SLUICE_BROKERS"
)

// Brokers returns the broker address list to use: list when given, else
// $SLUICE_BROKERS, else DefaultBrokers.
func Brokers(list string) string {
	if list == "" {
		list = os.Getenv(BrokersEnv)
	}
	if list == "" {
		list = DefaultBrokers
	}
	return list
}

// SplitBrokers splits a comma-separated address list, dropping blanks.
func SplitBrokers(list string) []string {
	var seeds []string
	for _, addr := range strings.Split(list, ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			seeds = append(seeds, addr)
		}
	}
	return seeds
}

// Config is what every client of a sluice command is built from.
type Config struct {
	Seeds       []string      // bootstrap addresses, host:port
	ClientID    string        // shown in broker logs and quotas
	DialTimeout time.Duration // bound on one connection attempt
	// Security are the TLS and SASL options from Settings.Options.
	Security []kgo.Opt
}

// Options returns the kgo options for cfg; callers append their own.
func (cfg Config) Options() []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(cfg.DialTimeout),
	}, cfg.Security...)
}

// New returns a client for cfg with the extra options applied after the
// shared ones. kgo dials lazily, on the first request.
func New(cfg Config, extra ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append(cfg.Options(), extra...)...)
}

// Compression returns the batch codec named none, gzip, snappy, lz4 or
// zstd, and false for any other name.
func Compression(name string) (kgo.CompressionCodec, bool) {
	switch name {
	case "none":
		return kgo.NoCompression(), true
	case "gzip":
		return kgo.GzipCompression(), true
	case "snappy":
		return kgo.SnappyCompression(), true
	case "lz4":
		return kgo.Lz4Compression(), true
	case "zstd":
		return kgo.ZstdCompression(), true
	}
	return kgo.CompressionCodec{}, false
}

// Acks returns the acknowledgement level named all (or -1), 1 or 0, and
// false for any other name.
func Acks(name string) (kgo.Acks, bool) {
	switch name {
	case "all", "-1":
		return kgo.AllISRAcks(), true
	case "1":
		return kgo.LeaderAck(), true
	case "0":
		return kgo.NoAck(), true
	}
	return kgo.Acks{}, false
}
