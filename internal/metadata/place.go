package metadata

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Place assigns count partitions with replicationFactor replicas each over
// the live brokers, as Kafka's placement does: brokers are ordered so that
// racks alternate, partition i's first replica (its leader) is broker
// start+i, and the followers are the next brokers in the order, shifted
// per round so that followers spread too. The start is random so that many
// small topics do not all lead on one broker.
func (im *Image) Place(count int32, replicationFactor int16) ([][]int32, error) {
	brokers := im.rackAlternating()
	n := len(brokers)
	if n == 0 {
		return nil, fmt.Errorf("%w: no broker is registered and live", kerr.BrokerNotAvailable)
	}
	if int(replicationFactor) > n {
		return nil, fmt.Errorf("%w: unable to replicate the partition %d time(s): the target replication factor of %d cannot be reached because only %d broker(s) are registered",
			kerr.InvalidReplicationFactor, replicationFactor, replicationFactor, n)
	}
	start := rand.IntN(n)
	shift := rand.IntN(n)
	out := make([][]int32, count)
	for i := range int(count) {
		if i > 0 && i%n == 0 {
			shift++
		}
		first := (start + i) % n
		rs := []int32{brokers[first]}
		for j := range int(replicationFactor) - 1 {
			rs = append(rs, brokers[(first+1+(shift+j)%max(n-1, 1))%n])
		}
		out[i] = rs
	}
	return out, nil
}

// rackAlternating lists live brokers so that consecutive brokers are on
// different racks where possible: rack by rack in turn, brokers sorted by
// id within a rack. Brokers without a rack form one group.
func (im *Image) rackAlternating() []int32 {
	byRack := map[string][]int32{}
	var racks []string
	for _, b := range im.LiveBrokers() {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		if _, ok := byRack[rack]; !ok {
			racks = append(racks, rack)
		}
		byRack[rack] = append(byRack[rack], b.ID)
	}
	slices.Sort(racks)
	var out []int32
	for i := 0; len(out) < len(im.LiveBrokers()); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}
