// Package controller acts on the cluster metadata (package metadata) over
// the network and over time; metadata itself stays a pure state machine.
// It owns:
//
//   - the active controller's duties on a voter (Controller): naming a new
//     cluster, broker registration and heartbeats, fencing a broker whose
//     session expired and unfencing it when it heartbeats again, and the
//     unclean leader elections unclean.leader.election.enable allows
//     (apply itself makes the clean ones), and the periodic preferred
//     leader elections of auto.leader.rebalance.enable (rebalance.go);
//   - their JSON-over-HTTP RPC on the controller listener (ServeHTTP) and
//     its client, a broker's membership (Member);
//   - the log of a broker that is not a voter (Observer), which fetches
//     committed records from a voter (ServeRecords) and forwards proposals
//     to one (ServePropose);
//   - the one-time import of the single-node metadata file that versions
//     before the quorum wrote (sluice-metadata.json), in legacy.go.
//
// It changes the metadata only through the Store's mutators, never by
// building an Image, and it never touches partitions, logs or the Raft
// node: package broker wires the Raft node (package quorum), the Store
// and these parts together. Time comes from the caller (Tick, Register
// and Heartbeat take now), so the duties are tested with a fake clock.
//
// The name follows Kafka's own cut: org.apache.kafka.image and .metadata
// hold the records and the image, org.apache.kafka.controller the quorum
// controller that acts on them.
package controller
