package group

// CompleteTxn is told, after a transaction marker was appended to
// partition offsetsPartition of __consumer_offsets at markerOffset, that
// producerID's transaction ended: its pending offsets (TxnOffsetCommit)
// become committed offsets on commit and are dropped on abort. (Being
// built: this is the seam WriteTxnMarkers codes against.)
func (c *Coordinator) CompleteTxn(offsetsPartition int32, producerID int64, producerEpoch int16, commit bool, markerOffset int64) error {
	return nil
}
