package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeProperties writes content to a fresh server.properties and returns
// its path.
func writeProperties(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads and fails the test on error.
func mustLoad(t *testing.T, file string, environ []string, flags map[string]string) (*Broker, []string) {
	t.Helper()
	path := ""
	if file != "" {
		path = writeProperties(t, file)
	}
	b, warnings, err := Load(path, environ, flags)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return b, warnings
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		environ    []string
		flags      map[string]string
		want       int
		wantSource Source
	}{
		{"default", "", nil, nil, 1, SourceDefault},
		{"file", "num.partitions=2", nil, nil, 2, SourceStaticBroker},
		{"env over file", "num.partitions=2", []string{"KAFKA_NUM_PARTITIONS=3"}, nil, 3, SourceStaticBroker},
		{"flag over env", "num.partitions=2", []string{"KAFKA_NUM_PARTITIONS=3"},
			map[string]string{"num.partitions": "4"}, 4, SourceStaticBroker},
		{"flag over file", "num.partitions=2", nil, map[string]string{"num.partitions": "4"}, 4, SourceStaticBroker},
		{"env alone", "", []string{"KAFKA_NUM_PARTITIONS=3"}, nil, 3, SourceStaticBroker},
		{"last duplicate in file", "num.partitions=2\nnum.partitions=5", nil, nil, 5, SourceStaticBroker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := mustLoad(t, tt.file, tt.environ, tt.flags)
			if got := b.Int("num.partitions"); got != tt.want {
				t.Errorf("num.partitions = %d, want %d", got, tt.want)
			}
			if got := b.Source("num.partitions"); got != tt.wantSource {
				t.Errorf("source = %v, want %v", got, tt.wantSource)
			}
		})
	}
}

func TestEnvKey(t *testing.T) {
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"KAFKA_LOG_DIRS", "log.dirs", true},
		{"KAFKA_ADVERTISED_LISTENERS", "advertised.listeners", true},
		{"KAFKA_LOG_RETENTION_HOURS", "log.retention.hours", true},
		{"KAFKA_LISTENER_NAME_INTERNAL_SSL__KEYSTORE", "listener.name.internal.ssl_keystore", true},
		{"KAFKA_SOME___DASHED_KEY", "some-dashed.key", true},
		{"KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___256_SASL_JAAS_CONFIG",
			"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config", true},
		{"KAFKA_A____B", "a-.b", true}, // "___" first, then "_"
		{"KAFKA_A_____B", "a-_b", true},
		{"KAFKA_", "", true},
		{"LOG_DIRS", "", false},
		{"kafka_log_dirs", "", false},
	}
	for _, tt := range tests {
		got, ok := EnvKey(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("EnvKey(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestEnviron(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"KAFKA_HEAP_OPTS=-Xmx1G", // the image's own variable: ignored
		"KAFKA_JMX_PORT=9999",
		"KAFKA_LOG_DIRS=/tmp/d",
		"KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://broker:9092",
		"KAFKA_LOG_RETENTION_HOURS=1",
		"MALFORMED",
	}
	b, _ := mustLoad(t, "", environ, nil)
	if got := b.LogDirs(); !reflect.DeepEqual(got, []string{"/tmp/d"}) {
		t.Errorf("LogDirs = %q", got)
	}
	if got := b.String("advertised.listeners"); got != "PLAINTEXT://broker:9092" {
		t.Errorf("advertised.listeners = %q", got)
	}
	if got := b.RetentionMs(); got != msPerHour {
		t.Errorf("RetentionMs = %d, want %d", got, msPerHour)
	}
}

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []property
	}{
		{"equals", "a=b", []property{{"a", "b", 1}}},
		{"colon", "a: b", []property{{"a", "b", 1}}},
		{"space", "a b", []property{{"a", "b", 1}}},
		{"space then equals", "a  =  b  ", []property{{"a", "b", 1}}},
		{"comments and blanks", "# c\n! c\n\n  \na=1\n  # indented", []property{{"a", "1", 5}}},
		{"continuation", "a=one, \\\n    two\nb=3", []property{{"a", "one, two", 1}, {"b", "3", 3}}},
		{"continuation at EOF", "a=x\\", []property{{"a", "x", 1}}},
		{"even backslashes", `a=x\\` + "\nb=y", []property{{"a", `x\`, 1}, {"b", "y", 2}}},
		{"comment does not continue", "# c \\\na=1", []property{{"a", "1", 2}}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3", []property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"escaped separator in key", `a\=b=c`, []property{{"a=b", "c", 1}}},
		{"escapes", `a=\t\u0041\x\uD83D\uDE00`, []property{{"a", "\tAx\U0001F600", 1}}},
		{"escaped trailing space", `a=b\ `, []property{{"a", "b ", 1}}},
		{"empty value", "a=\nb", []property{{"a", "", 1}, {"b", "", 2}}},
		{"second separator kept", "a==b", []property{{"a", "=b", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProperties(tt.in)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := parseProperties("a=1\nb=\\u12"); err == nil || !strings.HasPrefix(err.Error(), "line 2: malformed") {
		t.Errorf("bad \\u escape: err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		key, value string
		want       string // "" means valid
	}{
		{"num.partitions", "3", ""},
		{"num.partitions", " 3 ", ""},
		{"num.partitions", "abc", `num.partitions: "abc" is not an integer`},
		{"num.partitions", "0", "num.partitions: 0 is below the minimum 1"},
		{"num.partitions", "4294967296", "num.partitions: 4294967296 is outside the range of a 32-bit integer"},
		{"log.segment.bytes", "10", "log.segment.bytes: 10 is below the minimum 14"},
		{"log.retention.ms", "", ""}, // null
		{"log.retention.ms", "-2", "log.retention.ms: -2 is below the minimum -1"},
		{"compression.type", "zstd", ""},
		{"compression.type", " zstd ", ""},
		{"compression.type", "brotli",
			`compression.type: "brotli" is not one of producer, uncompressed, gzip, snappy, lz4, zstd`},
		{"log.cleanup.policy", "compact, delete", ""},
		{"log.cleanup.policy", "compact,shred", `log.cleanup.policy: "shred" is not one of delete, compact`},
		{"log.cleanup.policy", "", "log.cleanup.policy: the list is empty; choose from delete, compact"},
		{"log.dirs", "/a,,/b", `log.dirs: "/a,,/b" has an empty element`},
		{"auto.create.topics.enable", "TRUE", ""},
		{"auto.create.topics.enable", "yes", `auto.create.topics.enable: "yes" is not true or false`},
		{"log.cleaner.min.cleanable.ratio", "1.5", "log.cleaner.min.cleanable.ratio: 1.5 is above the maximum 1"},
		{"log.cleaner.min.cleanable.ratio", "NaN", `log.cleaner.min.cleanable.ratio: "NaN" is not a finite number`},
		{"listeners", "", "listeners: at least one listener is required"},
		{"listeners", "PLAINTEXT://:99999", `listeners: listener "PLAINTEXT://:99999": port 99999 is above 65535`},
		{"advertised.listeners", "PLAINTEXT://0.0.0.0:9092",
			"advertised.listeners: listener PLAINTEXT advertises the unroutable address 0.0.0.0"},
		{"listener.security.protocol.map", "CONTROLLER:PLAINTEXT,X:TLS",
			`listener.security.protocol.map: "TLS" is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`},
		{"http.listeners", "127.0.0.1", `http.listeners: "127.0.0.1" is not host:port`},
		{"num.replica.fetchers", "0", "num.replica.fetchers: 0 is below the minimum 1"},
		{"leader.imbalance.per.broker.percentage", "101", "leader.imbalance.per.broker.percentage: 101 is above the maximum 100"},
		{"replica.selector.class", "", ""}, // null: fetch from the leader
		{"replica.selector.class", " org.apache.kafka.common.replica.RackAwareReplicaSelector ", ""},
		{"replica.selector.class", "com.example.NearestReplicaSelector",
			`replica.selector.class: "com.example.NearestReplicaSelector" is not supported: the choices are null (consumers fetch from the leader) and org.apache.kafka.common.replica.RackAwareReplicaSelector`},
	}
	for _, tt := range tests {
		d, ok := Lookup(tt.key)
		if !ok {
			t.Fatalf("Lookup(%q) failed", tt.key)
		}
		err := d.Validate(tt.value)
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrInvalidValue) || errors.Is(err, ErrUnknownKey) {
				t.Errorf("%s=%q: error %v is not ErrInvalidValue", tt.key, tt.value, err)
			}
		}
		if got != tt.want {
			t.Errorf("%s=%q:\n got %q\nwant %q", tt.key, tt.value, got, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		flags   map[string]string
		want    string
	}{
		{"bad file value", "\n\nnum.partitions=abc", nil, nil,
			`server.properties line 3: num.partitions: "abc" is not an integer`},
		{"bad env value", "", []string{"KAFKA_LOG_SEGMENT_BYTES=10"}, nil,
			"environment variable KAFKA_LOG_SEGMENT_BYTES: log.segment.bytes: 10 is below the minimum 14"},
		{"bad flag value", "", nil, map[string]string{"compression.type": "x"},
			`flag: compression.type: "x" is not one of producer, uncompressed, gzip, snappy, lz4, zstd`},
		{"unknown flag", "", nil, map[string]string{"num.partition": "3"}, "flag: num.partition: unknown broker config"},
		{"ids differ", "node.id=1\nbroker.id=2", nil, nil, "node.id 1 (config file"},
		{"advertised name not bound", "advertised.listeners=OTHER://h:1", nil, nil,
			"advertised.listeners: listener OTHER is not one of the names in listeners"},
		{"broker compaction window", "log.cleaner.min.compaction.lag.ms=9\nlog.cleaner.max.compaction.lag.ms=8", nil, nil,
			"as topic defaults, min.compaction.lag.ms: 9 is above max.compaction.lag.ms 8"},
		{"fetch wait above lag", "replica.lag.time.max.ms=400", nil, nil,
			"replica.fetch.wait.max.ms: 500 is above replica.lag.time.max.ms 400; a waiting follower would leave the ISR"},
		{"bad escape", "a=\\uZZZZ", nil, nil, `line 1: malformed \uXXXX escape "\\uZZZZ"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeProperties(t, tt.file)
			}
			_, _, err := Load(path, tt.environ, tt.flags)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing"), nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestUnknownKeys(t *testing.T) {
	b, warnings := mustLoad(t, "zookeeper.connect=localhost:2181\nnum.partitions=2",
		[]string{"KAFKA_NOT_A_KEY=1", "KAFKA_OPTS=-Dx"}, nil)
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"zookeeper.connect"`) {
		t.Errorf("warnings = %q, want one naming zookeeper.connect", warnings)
	}
	if b.Int("num.partitions") != 2 {
		t.Errorf("a known key after an unknown one was not applied")
	}
	_, _, err := Load("", nil, map[string]string{"not.a.key": "1"})
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown flag: err = %v, want ErrUnknownKey", err)
	}
}

func TestAliases(t *testing.T) {
	tests := []struct {
		name          string
		file          string
		wantDirs      []string
		wantNodeID    int32
		wantBrokerID  int
		wantRetention int64
		wantRoll      int64
	}{
		{"defaults", "", []string{"./sluice-data"}, 1, 1, 168 * msPerHour, 168 * msPerHour},
		{"log.dir", "log.dir=/one", []string{"/one"}, 1, 1, 168 * msPerHour, 168 * msPerHour},
		{"log.dirs wins", "log.dir=/one\nlog.dirs=/a, /b", []string{"/a", "/b"}, 1, 1, 168 * msPerHour, 168 * msPerHour},
		{"node.id only", "node.id=7", []string{"./sluice-data"}, 7, 7, 168 * msPerHour, 168 * msPerHour},
		{"broker.id only", "broker.id=9", []string{"./sluice-data"}, 9, 9, 168 * msPerHour, 168 * msPerHour},
		{"both ids agree", "broker.id=4\nnode.id=4", []string{"./sluice-data"}, 4, 4, 168 * msPerHour, 168 * msPerHour},
		{"retention hours", "log.retention.hours=2", []string{"./sluice-data"}, 1, 1, 2 * msPerHour, 168 * msPerHour},
		{"minutes over hours", "log.retention.hours=2\nlog.retention.minutes=3",
			[]string{"./sluice-data"}, 1, 1, 3 * msPerMinute, 168 * msPerHour},
		{"ms over minutes", "log.retention.minutes=3\nlog.retention.ms=5",
			[]string{"./sluice-data"}, 1, 1, 5, 168 * msPerHour},
		{"unlimited", "log.retention.ms=-1", []string{"./sluice-data"}, 1, 1, -1, 168 * msPerHour},
		{"negative hours", "log.retention.hours=-3", []string{"./sluice-data"}, 1, 1, -1, 168 * msPerHour},
		{"roll hours", "log.roll.hours=1", []string{"./sluice-data"}, 1, 1, 168 * msPerHour, msPerHour},
		{"roll ms wins", "log.roll.hours=1\nlog.roll.ms=250", []string{"./sluice-data"}, 1, 1, 168 * msPerHour, 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := mustLoad(t, tt.file, nil, nil)
			if got := b.LogDirs(); !reflect.DeepEqual(got, tt.wantDirs) {
				t.Errorf("LogDirs = %q, want %q", got, tt.wantDirs)
			}
			if got := b.NodeID(); got != tt.wantNodeID {
				t.Errorf("NodeID = %d, want %d", got, tt.wantNodeID)
			}
			if got := b.Int("broker.id"); got != tt.wantBrokerID {
				t.Errorf("broker.id = %d, want %d", got, tt.wantBrokerID)
			}
			if got := b.RetentionMs(); got != tt.wantRetention {
				t.Errorf("RetentionMs = %d, want %d", got, tt.wantRetention)
			}
			if got := b.RollMs(); got != tt.wantRoll {
				t.Errorf("RollMs = %d, want %d", got, tt.wantRoll)
			}
		})
	}
}

func TestParseListeners(t *testing.T) {
	good := []struct {
		in   string
		want []Listener
	}{
		{"", []Listener{}},
		{"PLAINTEXT://127.0.0.1:9092,CONTROLLER://:9093",
			[]Listener{{"PLAINTEXT", "127.0.0.1", 9092}, {"CONTROLLER", "", 9093}}},
		{" plaintext://broker-1.example.com:0 ", []Listener{{"PLAINTEXT", "broker-1.example.com", 0}}},
		{"SSL://[::1]:9094,INTERNAL://[fe80::1%eth0]:1", []Listener{{"SSL", "::1", 9094}, {"INTERNAL", "fe80::1%eth0", 1}}},
	}
	for _, tt := range good {
		got, err := ParseListeners(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseListeners(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{
		"127.0.0.1:9092",                     // no name
		"://127.0.0.1:9092",                  // empty name
		"PLAIN TEXT://h:1",                   // space in name
		"PLAINTEXT://h",                      // no port
		"PLAINTEXT://h:",                     // empty port
		"PLAINTEXT://h:-1",                   // negative port
		"PLAINTEXT://h:+1",                   // sign
		"PLAINTEXT://h:65536",                // too large
		"PLAINTEXT://::1:9092",               // unbracketed IPv6
		"PLAINTEXT://[not-v6]:9092",          // brackets without IPv6
		"PLAINTEXT://[127.0.0.1]:9092",       // brackets around IPv4
		"PLAINTEXT://h/x:1",                  // bad host character
		"PLAINTEXT://a:1,,SSL://b:2",         // empty entry
		"PLAINTEXT://a:1,plaintext://b:2",    // duplicate name after upper-casing
		strings.Repeat("A://h:1,", 65) + "X", // over listenersMax
	}
	for _, in := range bad {
		if got, err := ParseListeners(in); err == nil {
			t.Errorf("ParseListeners(%q) = %v, want an error", in, got)
		}
	}
	if got := (Listener{"SSL", "::1", 9094}).String(); got != "SSL://[::1]:9094" {
		t.Errorf("String = %q", got)
	}
}

func TestTopic(t *testing.T) {
	b, _ := mustLoad(t, "log.segment.bytes=2048\nlog.retention.hours=2\nlog.flush.interval.ms=500", nil, nil)
	topic, err := b.Topic(map[string]string{"cleanup.policy": "compact , delete", "max.message.bytes": " 100"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key        string
		want       string
		wantSource Source
	}{
		{"cleanup.policy", "compact,delete", SourceDynamicTopic},
		{"max.message.bytes", "100", SourceDynamicTopic},
		{"segment.bytes", "2048", SourceStaticBroker},
		{"retention.ms", "7200000", SourceStaticBroker}, // from log.retention.hours
		{"segment.ms", "604800000", SourceDefault},      // from the default log.roll.hours
		{"flush.ms", "500", SourceStaticBroker},
		{"flush.messages", "1", SourceDefault},
		{"compression.type", "producer", SourceDefault},
		{"min.cleanable.dirty.ratio", "0.5", SourceDefault},
		{"unclean.leader.election.enable", "false", SourceDefault},
	}
	for _, tt := range tests {
		if got := topic.String(tt.key); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
		}
		if got := topic.Source(tt.key); got != tt.wantSource {
			t.Errorf("%s source = %v, want %v", tt.key, got, tt.wantSource)
		}
	}
	if got := topic.List("cleanup.policy"); !reflect.DeepEqual(got, []string{"compact", "delete"}) {
		t.Errorf("cleanup.policy list = %q", got)
	}
	if got := topic.Int("max.message.bytes"); got != 100 {
		t.Errorf("max.message.bytes = %d", got)
	}
	want := map[string]string{"cleanup.policy": "compact,delete", "max.message.bytes": "100"}
	if got := topic.Overrides(); !reflect.DeepEqual(got, want) {
		t.Errorf("Overrides = %q, want %q", got, want)
	}

	defaults, _ := mustLoad(t, "", nil, nil)
	plain, err := defaults.Topic(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Int64("flush.ms"); got != 1<<63-1 {
		t.Errorf("flush.ms with log.flush.interval.ms null = %d, want Long.MAX", got)
	}

	// unclean.leader.election.enable: the broker's value is every topic's
	// default, a topic's override wins.
	unclean, _ := mustLoad(t, "", []string{"KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE=true"}, nil)
	for overrides, want := range map[string]bool{"": true, "false": false, "true": true} {
		o := map[string]string{}
		if overrides != "" {
			o["unclean.leader.election.enable"] = overrides
		}
		topic, err := unclean.Topic(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := topic.Bool("unclean.leader.election.enable"); got != want {
			t.Errorf("unclean.leader.election.enable with override %q = %v, want %v", overrides, got, want)
		}
	}
}

func TestTopicErrors(t *testing.T) {
	b, _ := mustLoad(t, "", nil, nil)
	tests := []struct {
		overrides map[string]string
		want      string
		unknown   bool
	}{
		{map[string]string{"segment.bytes": "1"}, "segment.bytes: 1 is below the minimum 14", false},
		{map[string]string{"retention.ms": "soon"}, `retention.ms: "soon" is not an integer`, false},
		{map[string]string{"log.segment.bytes": "2048"}, "log.segment.bytes: unknown topic config", true},
		{map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"},
			"min.compaction.lag.ms: 10 is above max.compaction.lag.ms 5", false},
		{map[string]string{"b.bad": "1", "a.bad": "1"}, "a.bad: unknown topic config", true}, // name order
	}
	for _, tt := range tests {
		_, err := b.Topic(tt.overrides)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Topic(%v) err = %v, want %q", tt.overrides, err, tt.want)
			continue
		}
		if errors.Is(err, ErrUnknownKey) != tt.unknown {
			t.Errorf("Topic(%v): errors.Is(ErrUnknownKey) = %v", tt.overrides, !tt.unknown)
		}
	}
}

// TestEachDefaults checks that a broker with nothing configured describes
// every key with its registry default, and that the registry is sorted.
func TestEachDefaults(t *testing.T) {
	b, _ := mustLoad(t, "", nil, nil)
	var names []string
	b.Each(func(d *Def, value string, source Source) {
		names = append(names, d.Name)
		if value != d.Default || source != SourceDefault {
			t.Errorf("%s = %q (%v), want default %q", d.Name, value, source, d.Default)
		}
	})
	if len(names) != len(brokerDefs)+len(securityDefs)+len(authorizerDefs) || !slices.IsSorted(names) {
		t.Errorf("Each visited %d keys, sorted %v; registry has %d", len(names), slices.IsSorted(names), len(brokerDefs)+len(securityDefs)+len(authorizerDefs))
	}
	topic, _ := b.Topic(nil)
	topic.Each(func(d *Def, value string, source Source) {
		if !d.Dynamic || d.Scope != ScopeTopic {
			t.Errorf("%s: Dynamic=%v Scope=%v", d.Name, d.Dynamic, d.Scope)
		}
		if value != d.Default {
			t.Errorf("topic %s = %q, want its default %q", d.Name, value, d.Default)
		}
	})
	if d, _ := Lookup("compression.type"); d.Scope != ScopeBroker {
		t.Errorf("Lookup prefers the broker key for shared names")
	}
	if d, ok := LookupScope(ScopeTopic, "compression.type"); !ok || d.BrokerKey != "compression.type" {
		t.Errorf("LookupScope(topic, compression.type) = %v, %v", d, ok)
	}
}
