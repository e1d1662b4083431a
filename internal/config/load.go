package config

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// propertiesBytesMax bounds the properties file. Kafka's server.properties
// is a few kilobytes; anything near this limit is the wrong file.
const propertiesBytesMax = 1 << 20

// envPrefix marks the environment variables that are broker keys, as in
// the apache/kafka Docker image.
const envPrefix = "KAFKA_"

// layer is one value set in the file, environment or flags, with where it
// was set for error messages.
type layer struct {
	value  string // normalized
	origin string
}

// Load builds the broker configuration from defaults, the properties file
// (skipped when propertiesFile is ""), the environment (os.Environ format)
// and flags (Kafka key to value), each overriding the ones before. It
// returns warnings for unknown keys in the file. Errors are one sentence
// that names the key and where it was set.
func Load(propertiesFile string, environ []string, flags map[string]string) (*Broker, []string, error) {
	set := map[string]layer{}
	warnings, err := loadFile(propertiesFile, set)
	if err != nil {
		return nil, nil, err
	}
	if err := loadEnviron(environ, set); err != nil {
		return nil, nil, err
	}
	if err := loadFlags(flags, set); err != nil {
		return nil, nil, err
	}
	b, err := newBroker(set)
	if err != nil {
		return nil, nil, err
	}
	return b, warnings, nil
}

func loadFile(path string, set map[string]layer) (warnings []string, err error) {
	if path == "" {
		return nil, nil
	}
	data, err := readBounded(path, propertiesBytesMax)
	if err != nil {
		return nil, err
	}
	props, err := parseProperties(string(data))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	for _, p := range props {
		origin := fmt.Sprintf("config file %s line %d", path, p.Line)
		def, ok := lookupBrokerKey(p.Key)
		if !ok {
			// Kafka warns and carries on: files are shared across versions.
			warnings = append(warnings, fmt.Sprintf("%s: unknown broker config %q is ignored", origin, p.Key))
			continue
		}
		if err := setValue(set, p.Key, def, p.Value, origin); err != nil {
			return nil, err
		}
	}
	return warnings, nil
}

// readBounded reads a whole file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("config file %s is larger than the limit of %d bytes", path, limit)
	}
	return data, nil
}

// loadEnviron applies KAFKA_* variables. Unknown keys are ignored because
// the Docker image exports non-key variables (KAFKA_HEAP_OPTS,
// KAFKA_JMX_PORT) under the same prefix.
func loadEnviron(environ []string, set map[string]layer) error {
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		key, ok := EnvKey(name)
		if !ok {
			continue
		}
		def, ok := lookupBrokerKey(key)
		if !ok {
			continue
		}
		if err := setValue(set, key, def, value, "environment variable "+name); err != nil {
			return err
		}
	}
	return nil
}

// EnvKey maps an environment variable name to a Kafka key by the
// apache/kafka Docker image's rule: strip KAFKA_, then "___" is "-", "__"
// is "_", "_" is ".", and lowercase. ok is false without the prefix.
func EnvKey(name string) (key string, ok bool) {
	rest, ok := strings.CutPrefix(name, envPrefix)
	if !ok {
		return "", false
	}
	// Placeholders keep "__" from being split again by the "_" rule; NUL
	// cannot occur in an environment variable name.
	const dash, underscore = "\x00d", "\x00u"
	rest = strings.ReplaceAll(rest, "___", dash)
	rest = strings.ReplaceAll(rest, "__", underscore)
	rest = strings.ReplaceAll(rest, "_", ".")
	rest = strings.ReplaceAll(rest, dash, "-")
	rest = strings.ReplaceAll(rest, underscore, "_")
	return strings.ToLower(rest), true
}

// loadFlags applies flags in key order, so that with several bad flags the
// same one is reported every time. An unknown flag is an error: it was just
// typed, so it is a typo rather than a key from another version.
func loadFlags(flags map[string]string, set map[string]layer) error {
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		def, ok := lookupBrokerKey(key)
		if !ok {
			return fmt.Errorf("flag: %w", unknownKey(ScopeBroker, key))
		}
		if err := setValue(set, key, def, flags[key], "flag"); err != nil {
			return err
		}
	}
	return nil
}

// setValue records key's value (key is def's name, or a per-listener
// key whose Def is def).
func setValue(set map[string]layer, key string, def *Def, value, origin string) error {
	norm, err := def.normalize(value)
	if err != nil {
		if ce, ok := err.(*Error); ok && key != def.Name {
			err = &Error{Key: key, Reason: ce.Reason}
		}
		return fmt.Errorf("%s: %w", origin, err)
	}
	set[key] = layer{value: norm, origin: origin}
	return nil
}

// lookupBrokerKey finds a broker key by name, including the per-listener
// forms of the keys that have them.
func lookupBrokerKey(name string) (*Def, bool) {
	if d, ok := brokerByName[name]; ok {
		return d, true
	}
	return lookupListenerKey(name)
}

// newBroker resolves every broker key, then the aliases and the checks
// that span keys.
func newBroker(set map[string]layer) (*Broker, error) {
	if err := resolveNodeID(set); err != nil {
		return nil, err
	}
	b := &Broker{values: values{scope: ScopeBroker, entries: make(map[string]entry, len(brokerSorted))}}
	for _, d := range brokerSorted {
		value, source := d.Default, SourceDefault
		if l, ok := set[d.Name]; ok {
			value, source = l.value, SourceStaticBroker
		}
		b.entries[d.Name] = parseEntry(d, value, source)
	}
	b.resolveListenerValues(set)
	var err error
	b.listeners, err = ParseListeners(b.String("listeners"))
	if err != nil {
		panic("config: validated listeners do not parse: " + err.Error())
	}
	b.advertised, err = ParseListeners(b.String("advertised.listeners"))
	if err != nil {
		panic("config: validated advertised.listeners do not parse: " + err.Error())
	}
	if err := b.checkAdvertisedNames(); err != nil {
		return nil, err
	}
	if err := b.checkQuorum(); err != nil {
		return nil, err
	}
	if err := b.checkReplication(); err != nil {
		return nil, err
	}
	// The broker keys are every topic's defaults; a topic without
	// overrides must be valid, or every topic would fail to load.
	if _, err := b.Topic(nil); err != nil {
		return nil, fmt.Errorf("as topic defaults, %w", err)
	}
	return b, nil
}

// resolveNodeID makes node.id and broker.id one id, as Kafka does: if one
// is set the other takes its value; if both are set they must agree.
func resolveNodeID(set map[string]layer) error {
	node, nodeSet := set["node.id"]
	broker, brokerSet := set["broker.id"]
	switch {
	case nodeSet && brokerSet && node.value != broker.value:
		return fmt.Errorf("node.id %s (%s) and broker.id %s (%s) must be the same id",
			node.value, node.origin, broker.value, broker.origin)
	case nodeSet && !brokerSet:
		set["broker.id"] = node
	case brokerSet && !nodeSet:
		set["node.id"] = broker
	}
	return nil
}

// checkReplication enforces Kafka's rule that a follower's fetch is held
// no longer than it may lag: a follower whose fetches wait longer would
// drop out of the ISR while it is up to date.
func (b *Broker) checkReplication() error {
	wait, lag := b.Int64("replica.fetch.wait.max.ms"), b.Int64("replica.lag.time.max.ms")
	if wait > lag {
		return &Error{Key: "replica.fetch.wait.max.ms",
			Reason: fmt.Sprintf("%d is above replica.lag.time.max.ms %d; a waiting follower would leave the ISR", wait, lag)}
	}
	return nil
}

// checkAdvertisedNames enforces Kafka's rule that advertised listeners are
// a subset of the bound ones: a client must reach an advertised name on a
// socket this broker actually opened.
func (b *Broker) checkAdvertisedNames() error {
	for _, a := range b.advertised {
		if !slices.ContainsFunc(b.listeners, func(l Listener) bool { return l.Name == a.Name }) {
			return &Error{Key: "advertised.listeners",
				Reason: fmt.Sprintf("listener %s is not one of the names in listeners", a.Name)}
		}
	}
	return nil
}
