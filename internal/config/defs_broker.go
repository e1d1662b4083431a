package config

import (
	"fmt"
	"strconv"
)

// Kafka's Long.MAX_VALUE and Integer.MAX_VALUE as printed defaults.
var (
	longMax = strconv.FormatInt(1<<63-1, 10)
	intMax  = strconv.FormatInt(1<<31-1, 10)
)

// Compression codecs a producer or topic may name; "producer" keeps the
// producer's codec, "uncompressed" stores batches without compression.
var compressionTypes = []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}

// brokerDefs are the broker keys. Defaults are Kafka's except where a
// comment says "ours". Scope is set by register. A key is Dynamic where
// Kafka can change it at runtime, which for us means the topic defaults.
// Where Kafka leaves a broker key unbounded but bounds its topic key, we
// bound both (comment "bound ours"), so an inherited default is always a
// valid topic value.
var brokerDefs = []*Def{
	// Identity and roles.
	{Name: "node.id", Type: TypeInt, Default: "1", Min: bound(0), // ours: Kafka has no default
		Doc: "The id of this node in the cluster; the same id as broker.id."},
	{Name: "broker.id", Type: TypeInt, Default: "1", Min: bound(0), // ours: follows node.id
		Doc: "The id of this broker; an alias of node.id kept for older tooling."},
	{Name: "cluster.id", Type: TypeString, Nullable: true, // ours: Kafka keeps it in meta.properties
		Doc: "The cluster id; when null, the id stored with the data, or a new one, is used."},
	{Name: "broker.rack", Type: TypeString, Nullable: true,
		Doc: "The rack of this broker, used for rack-aware replica assignment."},
	{Name: "process.roles", Type: TypeList, Nullable: true, Enum: []string{"broker", "controller"},
		Doc: "The roles this node plays in KRaft mode: broker, controller, or both."},
	{Name: "controller.quorum.voters", Type: TypeList,
		Doc: "The controller quorum as a list of id@host:port entries."},
	{Name: "controller.listener.names", Type: TypeList,
		Doc: "The names of the listeners used by the controller."},
	{Name: "controller.quorum.election.timeout.ms", Type: TypeInt, Default: "1000", Min: bound(100), Max: bound(60_000),
		Doc: "How long a voter waits without hearing from a leader before it seeks election."},
	{Name: "broker.heartbeat.interval.ms", Type: TypeInt, Default: "2000", Min: bound(100),
		Doc: "The interval between a broker's heartbeats to the active controller."},
	{Name: "broker.session.timeout.ms", Type: TypeInt, Default: "9000", Min: bound(500),
		Doc: "How long the active controller waits without a heartbeat before it fences a broker."},
	{Name: "initial.broker.registration.timeout.ms", Type: TypeInt, Default: "60000", Min: bound(100),
		Doc: "How long a starting node waits for the controller quorum and its registration before it gives up and exits."},

	// Listeners.
	{Name: "listeners", Type: TypeString, Default: "PLAINTEXT://127.0.0.1:9092", // ours: Kafka binds all interfaces
		check: checkListeners,
		Doc:   "The listeners to bind, as NAME://host:port entries; an empty host binds all interfaces."},
	{Name: "advertised.listeners", Type: TypeString, check: checkAdvertisedListeners,
		Doc: "The listeners published to clients; empty means the same as listeners."},
	{Name: "inter.broker.listener.name", Type: TypeString, Nullable: true,
		Doc: "The listener brokers use to talk to each other."},
	{Name: "listener.security.protocol.map", Type: TypeString,
		Default: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
		check:   checkSecurityProtocolMap,
		Doc:     "The security protocol of each listener name, as NAME:PROTOCOL pairs."},
	{Name: "http.listeners", Type: TypeList, Default: "127.0.0.1:9644", check: checkHTTPListeners, // ours
		Doc: "The host:port addresses of the HTTP admin API and console; by default port 9644 on the host of the first listener."},

	// Requests.
	{Name: "socket.request.max.bytes", Type: TypeInt, Default: "104857600", Min: bound(1),
		Doc: "The largest request the broker accepts, in bytes."},
	{Name: "queued.max.request.bytes", Type: TypeLong, Default: "-1",
		Doc: "The bytes of queued requests above which no more are read; -1 means no limit."},

	// Connections.
	{Name: "max.connections", Type: TypeInt, Default: "2147483647", Min: bound(0),
		Doc: "The most client connections the broker keeps open on all listeners together; a connection past it is closed at once."},
	{Name: "max.connections.per.ip", Type: TypeInt, Default: "2147483647", Min: bound(0),
		Doc: "The most connections the broker keeps open from one IP address; a connection past it is closed at once."},
	{Name: "max.connections.per.ip.overrides", Type: TypeString, Default: "", check: checkConnectionsPerIPOverrides,
		Doc: "Per-IP limits that replace max.connections.per.ip, as host:count pairs separated by commas (\"10.0.0.1:200,10.0.0.2:0\")."},
	{Name: "message.max.bytes", Type: TypeInt, Default: "1048588", Min: bound(0), Dynamic: true,
		Doc: "The largest record batch the broker accepts, in bytes."},

	// Topics.
	{Name: "num.partitions", Type: TypeInt, Default: "1", Min: bound(1),
		Doc: "The number of partitions of a topic created without an explicit count."},
	{Name: "default.replication.factor", Type: TypeInt, Default: "1",
		Doc: "The replication factor of a topic created without an explicit factor."},
	{Name: "max.request.partition.size.limit", Type: TypeInt, Default: "2000", Min: bound(1),
		Doc: "The maximum number of partitions served in one DescribeTopicPartitions response; the client asks for the rest with its cursor."},
	{Name: "auto.create.topics.enable", Type: TypeBool, Default: "true",
		Doc: "Whether producing to or fetching metadata for an unknown topic creates it."},
	{Name: "delete.topic.enable", Type: TypeBool, Default: "true",
		Doc: "Whether topics may be deleted."},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", Min: bound(1), Dynamic: true,
		Doc: "The replicas that must acknowledge a write with acks=all."},
	{Name: "compression.type", Type: TypeString, Default: "producer", Enum: compressionTypes, Dynamic: true,
		Doc: "The codec stored batches use; producer keeps the producer's codec."},

	// Data replication.
	{Name: "replica.lag.time.max.ms", Type: TypeLong, Default: "30000", Min: bound(1), // bound ours
		Doc: "How long a follower may go without catching up to the leader's log end before it leaves the ISR."},
	{Name: "replica.fetch.max.bytes", Type: TypeInt, Default: "1048576", Min: bound(0),
		Doc: "The bytes a follower asks for per partition in one fetch; a larger first batch is still returned."},
	{Name: "replica.fetch.wait.max.ms", Type: TypeInt, Default: "500", Min: bound(0), // bound ours
		Doc: "How long the leader holds a follower's fetch that has less than replica.fetch.min.bytes to return."},
	{Name: "replica.fetch.min.bytes", Type: TypeInt, Default: "1", Min: bound(1), // bound ours
		Doc: "The bytes a follower's fetch waits for, up to replica.fetch.wait.max.ms."},
	{Name: "replica.fetch.response.max.bytes", Type: TypeInt, Default: "10485760", Min: bound(0),
		Doc: "The bytes a follower asks for in one fetch over all its partitions."},
	{Name: "replica.fetch.backoff.ms", Type: TypeInt, Default: "1000", Min: bound(0),
		Doc: "How long a follower waits after a failed fetch before it fetches from that leader again."},
	{Name: "num.replica.fetchers", Type: TypeInt, Default: "1", Min: bound(1), // bound ours
		Doc: "The fetcher connections a follower keeps to each leader broker."},
	{Name: "unclean.leader.election.enable", Type: TypeBool, Default: "false", Dynamic: true,
		Doc: "Whether a replica outside the ISR may lead when no ISR member is live, at the cost of losing acknowledged records."},
	{Name: "auto.leader.rebalance.enable", Type: TypeBool, Default: "true",
		Doc: "Whether the controller moves leadership back to each partition's preferred (first) replica."},
	{Name: "leader.imbalance.check.interval.seconds", Type: TypeLong, Default: "300", Min: bound(1),
		Doc: "How often the controller checks whether partition leadership is balanced."},
	{Name: "leader.imbalance.per.broker.percentage", Type: TypeInt, Default: "10", Min: bound(0), Max: bound(100), // bound ours
		Doc: "The share of a broker's preferred partitions led elsewhere above which the controller rebalances."},
	{Name: "replica.selector.class", Type: TypeString, Nullable: true, check: checkReplicaSelector,
		Doc: "The class choosing a replica for consumers to fetch from: null (the leader), or " + RackAwareReplicaSelector + " (an in-sync replica in the consumer's client.rack, KIP-392)."},

	// Log directories and segments.
	{Name: "log.dirs", Type: TypeList,
		Doc: "The directories that hold partition data; when empty, log.dir is used."},
	{Name: "log.dir", Type: TypeString, Default: "./sluice-data", // ours: Kafka uses /tmp/kafka-logs
		Doc: "The directory that holds partition data when log.dirs is empty."},
	{Name: "log.segment.bytes", Type: TypeInt, Default: "1073741824", Min: bound(14), Dynamic: true,
		Doc: "The size at which a segment is rolled, in bytes."},
	{Name: "log.roll.ms", Type: TypeLong, Nullable: true, Min: bound(1), Dynamic: true, // bound ours
		Doc: "The age at which a segment is rolled; when null, log.roll.hours is used."},
	{Name: "log.roll.hours", Type: TypeInt, Default: "168", Min: bound(1), Dynamic: true,
		Doc: "The age at which a segment is rolled, in hours, when log.roll.ms is null."},
	{Name: "log.index.interval.bytes", Type: TypeInt, Default: "4096", Min: bound(0), Dynamic: true,
		Doc: "The log bytes between two entries of the offset index."},
	{Name: "log.index.size.max.bytes", Type: TypeInt, Default: "10485760", Min: bound(4), Dynamic: true,
		Doc: "The largest offset index of a segment, in bytes."},

	// Retention and cleanup.
	{Name: "log.retention.ms", Type: TypeLong, Nullable: true, Min: bound(-1), Dynamic: true, // bound ours
		Doc: "How long a segment is kept; -1 keeps it forever; null defers to log.retention.minutes."},
	{Name: "log.retention.minutes", Type: TypeInt, Nullable: true, Dynamic: true,
		Doc: "How long a segment is kept, in minutes, when log.retention.ms is null."},
	{Name: "log.retention.hours", Type: TypeInt, Default: "168", Dynamic: true,
		Doc: "How long a segment is kept, in hours, when the ms and minutes keys are null."},
	{Name: "log.retention.bytes", Type: TypeLong, Default: "-1", Dynamic: true,
		Doc: "The partition size above which old segments are deleted; -1 means no limit."},
	{Name: "log.retention.check.interval.ms", Type: TypeLong, Default: "300000", Min: bound(1),
		Doc: "How often segments are checked against the retention limits."},
	{Name: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", Min: bound(0),
		Doc: "How long a deleted segment's files stay open for reads in progress before they are removed."},
	{Name: "log.open.files.max", Type: TypeInt, Default: "4096", Min: bound(1), // Sluice's key, not Kafka's
		Doc: "Sluice's key: the idle segment files kept open at once, least recently used closed first; the active segments' files and those reads use are kept open besides."},
	{Name: "log.cleanup.policy", Type: TypeList, Default: "delete", Enum: []string{"delete", "compact"}, Dynamic: true,
		Doc: "What happens to old segments: delete, compact, or both."},
	{Name: "log.cleaner.enable", Type: TypeBool, Default: "true",
		Doc: "Whether the log cleaner compacts topics with cleanup.policy=compact."},
	{Name: "log.cleaner.backoff.ms", Type: TypeLong, Default: "15000", Min: bound(0),
		Doc: "How long the cleaner sleeps between passes over the compacted logs."},
	{Name: "log.cleaner.dedupe.buffer.size", Type: TypeLong, Default: "134217728", Min: bound(1024 * 1024),
		Doc: "The memory of the cleaner's offset map, 24 bytes per key; it bounds the keys one clean covers."},
	{Name: "log.cleaner.io.buffer.size", Type: TypeInt, Default: "524288", Min: bound(0),
		Doc: "The cleaner's read and write buffer, grown for larger batches."},
	{Name: "log.cleaner.io.max.bytes.per.second", Type: TypeDouble, Default: "1.7976931348623157E308",
		Doc: "The cleaner's read plus write I/O limit."},
	{Name: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", Min: bound(0), Dynamic: true,
		Doc: "How long tombstones are kept in a compacted topic."},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", Min: bound(0), Dynamic: true,
		Doc: "The minimum age of a record before compaction may remove it."},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: longMax, Min: bound(1), Dynamic: true,
		Doc: "The maximum age of a record before it becomes eligible for compaction."},
	{Name: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5",
		MinDouble: boundDouble(0), MaxDouble: boundDouble(1), Dynamic: true,
		Doc: "The dirty share of a log above which it is compacted."},

	// Durability.
	{Name: "log.flush.interval.messages", Type: TypeLong, Default: "1", Min: bound(1), Dynamic: true, // ours: fsync before every acknowledgement
		Doc: "The messages appended between fsyncs; 1 means a write is on disk before it is acknowledged."},
	{Name: "log.flush.interval.ms", Type: TypeLong, Nullable: true, Min: bound(0), Dynamic: true, // bound ours
		Doc: "The longest time a message waits in memory before an fsync; null means no time limit."},

	// Timestamps.
	{Name: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime",
		Enum: []string{"CreateTime", "LogAppendTime"}, Dynamic: true,
		Doc: "Whether a record's timestamp is the producer's or the broker's append time."},
	{Name: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: longMax, Min: bound(0), Dynamic: true,
		Doc: "How far in the past a CreateTime timestamp may be."},
	{Name: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: longMax, Min: bound(0), Dynamic: true,
		Doc: "How far in the future a CreateTime timestamp may be."},

	// Groups and the offsets topic.
	{Name: "offsets.topic.replication.factor", Type: TypeInt, Default: "3", Min: bound(1),
		Doc: "The replication factor of the committed offsets topic, capped at the live brokers."},
	{Name: "offsets.topic.num.partitions", Type: TypeInt, Default: "50", Min: bound(1),
		Doc: "The number of partitions of the committed offsets topic."},
	{Name: "group.initial.rebalance.delay.ms", Type: TypeInt, Default: "3000",
		Doc: "How long a new group waits for more members before its first rebalance."},
	{Name: "group.min.session.timeout.ms", Type: TypeInt, Default: "6000",
		Doc: "The shortest session timeout a group member may ask for."},
	{Name: "group.max.session.timeout.ms", Type: TypeInt, Default: "1800000",
		Doc: "The longest session timeout a group member may ask for."},
	{Name: "offsets.retention.minutes", Type: TypeInt, Default: "10080", Min: bound(1),
		Doc: "How long the committed offsets of a group without members are kept."},
	{Name: "group.max.size", Type: TypeInt, Default: intMax, Min: bound(1),
		Doc: "The most members a consumer group may have."},
}

// RackAwareReplicaSelector is Kafka's rack-aware replica selector, the
// one value of replica.selector.class besides null: a consumer that sends
// its client.rack is pointed at an in-sync replica in that rack (KIP-392).
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// checkReplicaSelector is Def.check for replica.selector.class: Kafka
// loads any class implementing ReplicaSelector; Sluice has Kafka's
// rack-aware one built in and no plugins, so any other name is refused
// rather than ignored. check never sees null.
func checkReplicaSelector(value string) error {
	if value == RackAwareReplicaSelector {
		return nil
	}
	return &Error{Key: "replica.selector.class",
		Reason: fmt.Sprintf("%q is not supported: the choices are null (consumers fetch from the leader) and %s", value, RackAwareReplicaSelector)}
}
