package config

import (
	"fmt"
	"slices"
	"strings"
)

// Scope says where a key may be set: on the broker (file, environment,
// flags) or on a topic (CreateTopics, AlterConfigs).
type Scope int

const (
	ScopeBroker Scope = iota
	ScopeTopic
)

func (s Scope) String() string {
	switch s {
	case ScopeBroker:
		return "broker"
	case ScopeTopic:
		return "topic"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// Type is a key's value type, named as Kafka's ConfigDef names them.
type Type int

const (
	TypeString Type = iota
	TypeInt         // 32-bit signed
	TypeLong        // 64-bit signed
	TypeBool
	TypeList // comma separated, whitespace around elements ignored
	TypeDouble
	TypePassword
)

func (t Type) String() string {
	switch t {
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeLong:
		return "LONG"
	case TypeBool:
		return "BOOLEAN"
	case TypeList:
		return "LIST"
	case TypeDouble:
		return "DOUBLE"
	case TypePassword:
		return "PASSWORD"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// ConfigType is the type code DescribeConfigs v3+ reports for t
// (1 BOOLEAN, 2 STRING, 3 INT, 5 LONG, 6 DOUBLE, 7 LIST, 9 PASSWORD).
func (t Type) ConfigType() int8 {
	switch t {
	case TypeBool:
		return 1
	case TypeString:
		return 2
	case TypeInt:
		return 3
	case TypeLong:
		return 5
	case TypeDouble:
		return 6
	case TypeList:
		return 7
	case TypePassword:
		return 9
	}
	return 0
}

// Source is where a value came from. The values are Kafka's
// DescribeConfigs ConfigSource codes, so a handler can send them as is.
type Source int8

const (
	SourceUnknown              Source = 0
	SourceDynamicTopic         Source = 1
	SourceDynamicBroker        Source = 2
	SourceDynamicDefaultBroker Source = 3
	SourceStaticBroker         Source = 4
	SourceDefault              Source = 5
)

func (s Source) String() string {
	switch s {
	case SourceDynamicTopic:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBroker:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBroker:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBroker:
		return "STATIC_BROKER_CONFIG"
	case SourceDefault:
		return "DEFAULT_CONFIG"
	}
	return "UNKNOWN"
}

// Def describes one config key. Defs live in the registry for the life of
// the process and must not be modified.
type Def struct {
	Name string
	Type Type
	// Default is the textual default as Kafka prints it. With Nullable, ""
	// means null (Kafka's "no value"; another key or code decides).
	Default  string
	Nullable bool
	Doc      string // one sentence
	Scope    Scope
	// Dynamic keys can be changed at runtime in Kafka (DescribeConfigs
	// reports the others as read-only). Every topic key is dynamic.
	Dynamic   bool
	Sensitive bool // value must not be shown (DescribeConfigs sends null)
	// PerListener keys may also be set for one listener as
	// listener.name.<listener>.<key> (defs_security.go); PerMechanism
	// keys only as listener.name.<listener>.<mechanism>.<key>.
	PerListener, PerMechanism bool

	// BrokerKey is, for a topic key, the broker key that supplies the
	// default when the topic does not override it. Synonyms are further
	// broker keys consulted, in order, when BrokerKey is null
	// (log.retention.minutes and .hours for retention.ms).
	BrokerKey string
	Synonyms  []string

	// Min and Max bound TypeInt and TypeLong values, MinDouble and MaxDouble
	// TypeDouble values; nil means unbounded.
	Min, Max             *int64
	MinDouble, MaxDouble *float64
	// Enum lists the allowed values of a TypeString key, or of each element
	// of a TypeList key. Matching is exact, as in Kafka.
	Enum []string

	// check validates what the type alone cannot (listener syntax). It sees
	// the normalized value and is not called for null.
	check func(value string) error
	// fromBroker computes a topic key's default from the broker when it is
	// more than copying BrokerKey (retention.ms from the .hours fallback).
	fromBroker func(b *Broker) string
}

// Registry: built once by init from the tables in defs_broker.go and
// defs_topic.go, read-only afterwards, so safe for concurrent use.
var (
	brokerByName = map[string]*Def{}
	topicByName  = map[string]*Def{}
	brokerSorted []*Def
	topicSorted  []*Def
)

func init() {
	brokerSorted = register(slices.Concat(brokerDefs, securityDefs, authorizerDefs), ScopeBroker, brokerByName)
	topicSorted = register(topicDefs, ScopeTopic, topicByName)
	checkTopicDefs()
}

// register indexes defs under scope and returns them sorted by name. It
// panics on a broken table, which the package's tests catch at once.
func register(defs []*Def, scope Scope, byName map[string]*Def) []*Def {
	for _, d := range defs {
		if _, dup := byName[d.Name]; dup {
			panic("config: duplicate " + scope.String() + " key " + d.Name)
		}
		d.Scope = scope
		if scope == ScopeTopic {
			d.Dynamic = true
		}
		if _, err := d.normalize(d.Default); err != nil {
			panic(fmt.Sprintf("config: default of %s does not validate: %v", d.Name, err))
		}
		byName[d.Name] = d
	}
	sorted := slices.Clone(defs)
	slices.SortFunc(sorted, func(a, b *Def) int { return strings.Compare(a.Name, b.Name) })
	return sorted
}

// checkTopicDefs asserts that every topic key's broker keys exist and, where
// the value is copied, have the same type, so that a broker value always
// parses as the topic value it becomes.
func checkTopicDefs() {
	for _, d := range topicDefs {
		for _, key := range d.brokerKeys() {
			bd, ok := brokerByName[key]
			if !ok {
				panic("config: topic key " + d.Name + " names unknown broker key " + key)
			}
			if key == d.BrokerKey && d.fromBroker == nil && bd.Type != d.Type {
				panic("config: topic key " + d.Name + " and broker key " + key + " differ in type")
			}
		}
	}
}

// brokerKeys is BrokerKey followed by Synonyms: the broker keys that decide
// a topic key's default, in order of precedence.
func (d *Def) brokerKeys() []string {
	if d.BrokerKey == "" {
		return nil
	}
	return append([]string{d.BrokerKey}, d.Synonyms...)
}

// Lookup finds a key by name, broker keys first. Two names exist in both
// scopes (compression.type, min.insync.replicas) with the same type and
// bounds; use LookupScope when the scope matters.
func Lookup(name string) (*Def, bool) {
	if d, ok := brokerByName[name]; ok {
		return d, true
	}
	d, ok := topicByName[name]
	return d, ok
}

// LookupScope finds a key by name within one scope.
func LookupScope(scope Scope, name string) (*Def, bool) {
	var d *Def
	var ok bool
	switch scope {
	case ScopeBroker:
		d, ok = brokerByName[name]
	case ScopeTopic:
		d, ok = topicByName[name]
	}
	return d, ok
}

// Defs returns the keys of one scope sorted by name. The slice is a copy;
// the Defs are shared.
func Defs(scope Scope) []*Def {
	switch scope {
	case ScopeBroker:
		return slices.Clone(brokerSorted)
	case ScopeTopic:
		return slices.Clone(topicSorted)
	}
	return nil
}

// bound returns a pointer to n, for Def.Min and Def.Max in the tables.
func bound(n int64) *int64 { return &n }

// boundDouble returns a pointer to f, for Def.MinDouble and Def.MaxDouble.
func boundDouble(f float64) *float64 { return &f }
