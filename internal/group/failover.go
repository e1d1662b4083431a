package group

import (
	"time"
)

// A broker coordinates the groups of the offsets partitions it leads. When
// leadership of a partition arrives (an election after its leader failed,
// or a move), the coordinator replays that partition and takes its
// groups; when leadership leaves, it drops them and answers their parked
// requests with NOT_COORDINATOR, so clients find the new coordinator.
// Kafka's GroupCoordinator does the same in onElection and onResignation.
// While a partition loads, its groups' requests get
// COORDINATOR_LOAD_IN_PROGRESS, which clients retry.

// loadState is where one offsets partition's groups stand on this broker.
type loadState uint8

const (
	unloaded loadState = iota // another broker coordinates them, or nobody yet
	loading                   // replay in progress
	loaded                    // coordinated here
)

// loadRetry is the pause before a failed replay is tried again, while the
// partition is still led here.
const loadRetry = 500 * time.Millisecond

// leads reports whether this broker leads an offsets partition.
func (c *Coordinator) leads(partition int32) bool {
	return c.cfg.Leads == nil || c.cfg.Leads(partition)
}

// partitionState returns the load state of an offsets partition.
func (c *Coordinator) partitionState(partition int32) loadState {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	return c.loads[partition]
}

// loadInitial replays every partition led here before the shards start.
func (c *Coordinator) loadInitial() error {
	c.loads = make([]loadState, c.partitions)
	for p := range c.partitions {
		if !c.leads(p) {
			continue
		}
		state, err := c.replayPartition(p)
		if err != nil {
			return err
		}
		c.install(state)
		c.loads[p] = loaded
	}
	return nil
}

// Reconcile takes the groups of offsets partitions newly led here and
// drops those of partitions led elsewhere now. The broker calls it after
// every metadata change; it returns at once, loading in the background.
func (c *Coordinator) Reconcile() {
	if c == nil {
		return
	}
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	for p := range c.partitions {
		leads := c.leads(p)
		switch st := c.loads[p]; {
		case leads && st == unloaded:
			c.loads[p] = loading
			c.wg.Add(1)
			go c.loadPartition(p)
		case !leads && st == loaded:
			c.loads[p] = unloaded
			s := c.shards[p%shardCount]
			s.do(func() { s.unload(p) })
		}
		// A partition still loading when leadership leaves is dropped
		// when its load finishes (loadPartition looks again).
	}
}

// loadPartition replays partition p and installs its groups on their
// shard, retrying a failed replay while p is still led here.
func (c *Coordinator) loadPartition(p int32) {
	defer c.wg.Done()
	start := c.clock.Now()
	for {
		if !c.leads(p) {
			c.setLoad(p, unloaded)
			return
		}
		state, err := c.replayPartition(p)
		if err == nil {
			s := c.shards[p%shardCount]
			if !s.do(func() { s.takeLoaded(p, state, start) }) {
				return // closing
			}
			return
		}
		c.logger.Warn("cannot load the groups of an offsets partition yet", "partition", p, "err", err)
		select {
		case <-c.done:
			return
		case <-time.After(loadRetry):
		}
	}
}

// setLoad records an offsets partition's load state.
func (c *Coordinator) setLoad(p int32, st loadState) {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	c.loads[p] = st
}

// takeLoaded installs the groups replayed from partition p, unless
// leadership left meanwhile. It runs on the shard's goroutine, so no
// request for these groups runs between the install and the state change.
func (s *shard) takeLoaded(p int32, state map[string]*loadedGroup, start time.Time) {
	c := s.c
	if !c.leads(p) {
		c.setLoad(p, unloaded)
		return
	}
	groups := c.install(state)
	for _, g := range groups {
		for _, m := range g.members {
			g.scheduleExpiry(m)
		}
	}
	c.setLoad(p, loaded)
	c.logger.Info("coordinating the groups of an offsets partition", "partition", p, "groups", len(groups), "took", c.clock.Now().Sub(start))
}

// unload drops the groups of offsets partition p: another broker
// coordinates them now. Parked joins and syncs hear NOT_COORDINATOR.
func (s *shard) unload(p int32) {
	dropped := 0
	for _, g := range s.groups {
		if PartitionFor(g.id, s.c.partitions) != p {
			continue
		}
		g.unload()
		s.removeGroup(g)
		dropped++
	}
	s.c.logger.Info("no longer coordinating the groups of an offsets partition", "partition", p, "groups", dropped)
}
