package replica

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// The fetchers reach leaders through a Transport, so that this package
// stays off the wire (internal/peer speaks Kafka's Fetch with franz-go)
// and tests can put an in-memory leader behind it.

// Transport opens connections to the brokers this one follows.
type Transport interface {
	// Open returns a connection to broker leader for one fetcher. Each
	// fetcher owns its connection, so that the long polls of
	// num.replica.fetchers fetchers towards one broker do not queue
	// behind each other. An error (the broker has no endpoint in the
	// image, say) makes the fetcher back off and open again.
	Open(leader int32) (FetchConn, error)
}

// FetchConn is one fetcher's connection to a leader.
type FetchConn interface {
	// Fetch sends one replica fetch and waits for its answer, or for ctx
	// to end. An error means no answer: the fetcher backs off, closes the
	// connection and opens a new one.
	Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error)
	// Close releases the connection.
	Close()
}

// FetchRequest is Kafka's replica Fetch (v15+): a follower asking its
// leader for what follows its durable log end, partition by partition.
type FetchRequest struct {
	ReplicaID   int32 // this broker (ReplicaState.ReplicaId)
	BrokerEpoch int64 // this broker's registration epoch (ReplicaState.ReplicaEpoch), -1 unknown
	MaxWait     time.Duration
	MinBytes    int32
	MaxBytes    int32 // replica.fetch.response.max.bytes
	Partitions  []FetchPartition
}

// FetchPartition is one partition of a FetchRequest.
type FetchPartition struct {
	Topic              string
	TopicID            metadata.TopicID
	Partition          int32
	CurrentLeaderEpoch int32
	FetchOffset        int64 // the follower's durable log end
	// LastFetchedEpoch is the epoch of the follower's last batch, so the
	// leader can tell a diverging log (KIP-595); -1 when unknown.
	LastFetchedEpoch int32
	LogStartOffset   int64
	MaxBytes         int32 // replica.fetch.max.bytes
}

// FetchResponse is the leader's answer.
type FetchResponse struct {
	Partitions []FetchedPartition
}

// FetchedPartition is one partition of a FetchResponse.
type FetchedPartition struct {
	Topic     string
	Partition int32
	// Err is nil or wraps the partition's *kerr.Error.
	Err error
	// HighWatermark and LogStartOffset are the leader's; -1 when it did
	// not say. Sluice's leader reports them with OFFSET_OUT_OF_RANGE too.
	HighWatermark  int64
	LogStartOffset int64
	// DivergingEpoch and DivergingEndOffset are set (epoch >= 0) when the
	// follower's log diverges from the leader's: the largest epoch the
	// leader has up to the follower's last fetched one, and where it ends
	// on the leader. No records come with them.
	DivergingEpoch     int32
	DivergingEndOffset int64
	// Records are whole batches, except perhaps a last one cut short by
	// the byte limits, which the follower leaves for its next fetch.
	Records []byte
}
