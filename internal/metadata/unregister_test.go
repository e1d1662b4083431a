package metadata

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestUnregisterBroker: an unknown id is BROKER_ID_NOT_REGISTERED; an
// unregistered broker leaves the brokers, the ISRs and the leaderships,
// and stays in the replica lists as an offline replica.
func TestUnregisterBroker(t *testing.T) {
	s, _ := reassignFixture(t) // "t"-0 on [1 2] led by 1
	if err := s.UnregisterBroker(ctx, 9); !errors.Is(err, kerr.BrokerIDNotRegistered) {
		t.Fatalf("unknown broker: %v", err)
	}
	before := s.Image().Topics["t"].Assignments[0]
	if err := s.UnregisterBroker(ctx, 1); err != nil {
		t.Fatal(err)
	}
	im := s.Image()
	if _, ok := im.Brokers[1]; ok {
		t.Fatal("broker 1 is still registered")
	}
	p := im.Topics["t"].Assignments[0]
	if !slices.Equal(p.Replicas, []int32{1, 2}) || !slices.Equal(p.ISR, []int32{2}) || p.Leader != 2 ||
		p.LeaderEpoch != before.LeaderEpoch+1 {
		t.Fatalf("after unregistering the leader: %+v", p)
	}
	if err := s.UnregisterBroker(ctx, 1); !errors.Is(err, kerr.BrokerIDNotRegistered) {
		t.Fatalf("twice: %v", err)
	}
}
