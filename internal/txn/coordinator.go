package txn

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TopicPartitions names partitions by topic, as AddPartitionsToTxn does.
type TopicPartitions map[string][]int32

// Coordinator is the transaction coordinator: the transactional ids whose
// __transaction_state partition this broker leads, their state machines
// and the markers they write. (Being built: this is the seam the produce
// path codes against.)
type Coordinator struct{}

// AddPartitionsFromBroker is how a partition leader asks the coordinator
// of transactionalID about partitions of a transactional produce
// (KIP-890): with verifyOnly, whether they are all in the producer's
// ongoing transaction (AddPartitionsToTxn v4+ verify_only, part 1);
// without, to add them (transaction.version 2: the producer sends
// Produce v12+ and no AddPartitionsToTxn of its own, part 2). The
// coordinator may be another broker; it is reached with
// AddPartitionsToTxn then. The error wraps the Kafka error for the
// produce: INVALID_TXN_STATE, PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS.
func (c *Coordinator) AddPartitionsFromBroker(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, partitions TopicPartitions, verifyOnly bool) error {
	return fmt.Errorf("%w: no transaction coordinator yet", kerr.InvalidTxnState)
}
