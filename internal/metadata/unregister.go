package metadata

import (
	"context"
	"fmt"
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
)

// UnregisterBrokerRecord removes a broker's registration (Kafka's
// UnregisterBroker), for a broker that has left the cluster for good,
// typically after `sluice cluster decommission` moved its replicas away.
// Partitions still naming it keep it as an offline replica; it leaves
// their ISRs and leaderships as a fenced broker does. A broker that is
// still running registers again at its next heartbeat.
type UnregisterBrokerRecord struct {
	ID int32 `json:"id"`
}

// unregisterBroker applies an UnregisterBrokerRecord: BROKER_ID_NOT_REGISTERED
// for an unknown id, as Kafka's ClusterControlManager answers.
func (im *Image) unregisterBroker(r *UnregisterBrokerRecord) Result {
	if _, ok := im.Brokers[r.ID]; !ok {
		return Result{Err: fmt.Errorf("%w: broker %d is not registered", kerr.BrokerIDNotRegistered, r.ID)}
	}
	im.Brokers = maps.Clone(im.Brokers)
	delete(im.Brokers, r.ID)
	im.electLeaders(r.ID)
	return Result{}
}

// UnregisterBroker removes broker id's registration (see
// UnregisterBrokerRecord).
func (s *Store) UnregisterBroker(ctx context.Context, id int32) error {
	_, err := s.change(ctx, Record{UnregisterBroker: &UnregisterBrokerRecord{ID: id}})
	return err
}
