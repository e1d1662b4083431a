package replica

// The epoch cache's follower side: a follower cutting its log back to
// where it agrees with its leader cuts the cache with it, as Kafka's
// LeaderEpochFileCache.truncateFromEnd and clearAndFlush do.

// truncateFromEnd drops the entries starting at or after endOffset and
// writes the file if any went: the log was cut back to endOffset, so the
// epochs that began there have no batch left. An entry that began below
// endOffset stays: its epoch still covers the records below the cut.
func (c *epochCache) truncateFromEnd(endOffset int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	if n == 0 || c.entries[n-1].StartOffset < endOffset {
		return
	}
	c.entries = truncateEpochsFromEnd(c.entries, endOffset)
	c.writeLocked()
}

// clear drops every entry, for a log emptied to start again at the
// leader's log start: the epochs arrive again with the batches.
func (c *epochCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return
	}
	c.entries = nil
	c.writeLocked()
}
