package config

import (
	"fmt"
	"maps"
	"slices"
)

// values is a resolved value for every key of one scope. Its accessors
// panic on an unknown key or a key of another type: both are mistakes in
// our code, caught by the first test that runs it, never bad input.
type values struct {
	scope   Scope
	entries map[string]entry // every key of scope; read-only once built
}

func (v *values) get(name string, types ...Type) entry {
	d, ok := LookupScope(v.scope, name)
	if !ok {
		panic(fmt.Sprintf("config: %s is not a %s key", name, v.scope))
	}
	if len(types) > 0 && !slices.Contains(types, d.Type) {
		panic(fmt.Sprintf("config: %s is a %s key, not %v", name, d.Type, types))
	}
	return v.entries[name]
}

// String returns a key's value as text, of any type; "" for null.
func (v *values) String(name string) string { return v.get(name).value }

// Int returns a TypeInt key's value; 0 for null.
func (v *values) Int(name string) int { return int(v.get(name, TypeInt).integer) }

// Int64 returns a TypeInt or TypeLong key's value; 0 for null.
func (v *values) Int64(name string) int64 { return v.get(name, TypeInt, TypeLong).integer }

// Float64 returns a TypeDouble key's value; 0 for null.
func (v *values) Float64(name string) float64 { return v.get(name, TypeDouble).double }

// Bool returns a TypeBool key's value.
func (v *values) Bool(name string) bool { return v.get(name, TypeBool).boolean }

// List returns a copy of a TypeList key's elements; nil for an empty list.
func (v *values) List(name string) []string { return slices.Clone(v.get(name, TypeList).list) }

// IsNull reports whether a Nullable key has no value.
func (v *values) IsNull(name string) bool { return v.get(name).null }

// Source returns where a key's value came from.
func (v *values) Source(name string) Source { return v.get(name).source }

// Each calls fn for every key of the scope in name order, with its value
// as text ("" for null; see Def.Nullable) and its source: the answer to a
// DescribeConfigs request that names no keys.
func (v *values) Each(fn func(def *Def, value string, source Source)) {
	for _, d := range Defs(v.scope) {
		e := v.entries[d.Name]
		fn(d, e.value, e.source)
	}
}

// Broker is the broker's configuration: every broker key resolved from
// defaults, file, environment and flags. It is immutable after Load and
// safe for concurrent use.
type Broker struct {
	values
	listeners  []Listener // parsed listeners
	advertised []Listener // parsed advertised.listeners; empty when unset
	// listenerValues are the per-listener keys that are set
	// (listener.name.<listener>.<key>), by full name.
	listenerValues map[string]entry
}

// Listeners returns the parsed listeners.
func (b *Broker) Listeners() []Listener { return slices.Clone(b.listeners) }

// AdvertisedListeners returns the listeners published to clients:
// advertised.listeners, or listeners when it is empty. An empty host is
// left for the caller to replace with the machine's name.
func (b *Broker) AdvertisedListeners() []Listener {
	if len(b.advertised) == 0 {
		return b.Listeners()
	}
	return slices.Clone(b.advertised)
}

// SecurityProtocols returns listener.security.protocol.map keyed by
// upper-cased listener name.
func (b *Broker) SecurityProtocols() map[string]string {
	protocols, err := parseSecurityProtocolMap(b.String("listener.security.protocol.map"))
	if err != nil {
		panic("config: validated listener.security.protocol.map does not parse: " + err.Error())
	}
	return protocols
}

// LogDirs returns the data directories: log.dirs, or log.dir when log.dirs
// is empty, as Kafka resolves them.
func (b *Broker) LogDirs() []string {
	if dirs := b.List("log.dirs"); len(dirs) > 0 {
		return dirs
	}
	return []string{b.String("log.dir")}
}

// NodeID returns this node's id. Load has made node.id and broker.id agree.
func (b *Broker) NodeID() int32 { return int32(b.Int("node.id")) }

// Kafka's retention and roll keys come in several units; these convert.
const (
	msPerMinute = 60 * 1000
	msPerHour   = 60 * msPerMinute
)

// RetentionMs returns how long segments are kept, in milliseconds:
// log.retention.ms, else log.retention.minutes, else log.retention.hours,
// as Kafka resolves them. Any negative setting means forever, returned as
// -1.
func (b *Broker) RetentionMs() int64 {
	var ms int64
	switch {
	case !b.IsNull("log.retention.ms"):
		ms = b.Int64("log.retention.ms")
	case !b.IsNull("log.retention.minutes"):
		ms = b.Int64("log.retention.minutes") * msPerMinute
	default:
		ms = b.Int64("log.retention.hours") * msPerHour
	}
	if ms < 0 {
		return -1
	}
	return ms
}

// RollMs returns the age at which a segment is rolled, in milliseconds:
// log.roll.ms, else log.roll.hours.
func (b *Broker) RollMs() int64 {
	if !b.IsNull("log.roll.ms") {
		return b.Int64("log.roll.ms")
	}
	return b.Int64("log.roll.hours") * msPerHour
}

// Topic is one topic's configuration: its overrides layered over the broker
// keys that supply topic defaults. It is immutable and safe for concurrent
// use.
type Topic struct {
	values
	overrides map[string]string // canonical override values
}

// Topic validates a topic's overrides and layers them over b. An unknown
// key or a bad value is an error naming the key (errors.Is ErrUnknownKey or
// ErrInvalidValue); keys are checked in name order so the same one is
// reported every time.
func (b *Broker) Topic(overrides map[string]string) (*Topic, error) {
	t := &Topic{
		values:    values{scope: ScopeTopic, entries: make(map[string]entry, len(topicSorted))},
		overrides: make(map[string]string, len(overrides)),
	}
	for _, key := range slices.Sorted(maps.Keys(overrides)) {
		d, ok := topicByName[key]
		if !ok {
			return nil, unknownKey(ScopeTopic, key)
		}
		norm, err := d.normalize(overrides[key])
		if err != nil {
			return nil, err
		}
		t.overrides[key] = norm
	}
	for _, d := range topicSorted {
		if value, ok := t.overrides[d.Name]; ok {
			t.entries[d.Name] = parseEntry(d, value, SourceDynamicTopic)
		} else {
			t.entries[d.Name] = b.topicDefault(d)
		}
	}
	if err := t.checkCompactionLag(); err != nil {
		return nil, err
	}
	return t, nil
}

// checkCompactionLag rejects a window that no record could satisfy, as
// Kafka does: a record must become compactable no later than it must be
// compacted.
func (t *Topic) checkCompactionLag() error {
	minLag, maxLag := t.Int64("min.compaction.lag.ms"), t.Int64("max.compaction.lag.ms")
	if minLag <= maxLag {
		return nil
	}
	return &Error{Key: "min.compaction.lag.ms",
		Reason: fmt.Sprintf("%d is above max.compaction.lag.ms %d", minLag, maxLag)}
}

// Overrides returns a copy of the topic's overrides in canonical form.
func (t *Topic) Overrides() map[string]string { return maps.Clone(t.overrides) }

// topicDefault is a topic key's value when the topic does not override it.
// Its source is that of the first of the broker keys that was set, because
// that key decided the value (log.retention.hours for retention.ms when
// only the hours are configured).
func (b *Broker) topicDefault(d *Def) entry {
	var value string
	if d.fromBroker != nil {
		value = d.fromBroker(b)
	} else if e := b.entries[d.BrokerKey]; !e.null {
		value = e.value
	} else {
		value = d.Default
	}
	source := SourceDefault
	for _, key := range d.brokerKeys() {
		if s := b.entries[key].source; s != SourceDefault {
			source = s
			break
		}
	}
	return parseEntry(d, value, source)
}
