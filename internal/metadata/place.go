package metadata

import (
	"fmt"
	"maps"
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
	racks := map[int32]string{}
	for _, b := range im.LiveBrokers() {
		if b.Rack != nil {
			racks[b.ID] = *b.Rack
		}
	}
	rackCount := len(im.rackGroups())
	start, shift := rand.IntN(n), rand.IntN(n)
	out := make([][]int32, count)
	for i := range int(count) {
		if i > 0 && i%n == 0 {
			shift++
		}
		first := (start + i) % n
		out[i] = followers(brokers, racks, rackCount, first, shift, int(replicationFactor))
	}
	return out, nil
}

// followers returns the replicas of a partition led by brokers[first]:
// the next brokers in order from a per-round shift, skipping a broker on
// a rack that already holds a replica while some rack holds none, as
// Kafka's rack-aware assignment does.
func followers(brokers []int32, racks map[int32]string, rackCount, first, shift, replicationFactor int) []int32 {
	n := len(brokers)
	rs := []int32{brokers[first]}
	used := map[string]bool{racks[brokers[first]]: true}
	for k := 0; len(rs) < replicationFactor && k < 2*n; k++ {
		b := brokers[(first+1+(shift+k)%max(n-1, 1))%n]
		if slices.Contains(rs, b) {
			continue
		}
		if used[racks[b]] && len(used) < rackCount && k < n {
			continue // another rack still has no replica
		}
		rs = append(rs, b)
		used[racks[b]] = true
	}
	return rs
}

// rackAlternating lists live brokers so that consecutive brokers are on
// different racks where possible: rack by rack in turn, brokers sorted by
// id within a rack. Brokers without a rack form one group.
func (im *Image) rackAlternating() []int32 {
	groups := im.rackGroups()
	racks := slices.Sorted(maps.Keys(groups))
	var out []int32
	for i := 0; len(out) < len(im.LiveBrokers()); i++ {
		for _, r := range racks {
			if i < len(groups[r]) {
				out = append(out, groups[r][i])
			}
		}
	}
	return out
}

// rackGroups returns the live brokers by rack, sorted by id; brokers
// without a rack are the group "".
func (im *Image) rackGroups() map[string][]int32 {
	groups := map[string][]int32{}
	for _, b := range im.LiveBrokers() {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		groups[rack] = append(groups[rack], b.ID)
	}
	return groups
}
