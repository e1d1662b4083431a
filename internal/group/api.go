package group

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup runs a JoinGroup request; it blocks until the group's
// rebalance completes (bounded by the rebalance timeout) or ctx ends.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, host string) *kmsg.JoinGroupResponse {
	w := &joinWait{ch: make(chan *kmsg.JoinGroupResponse, 1), version: req.Version}
	if c == nil {
		w.fail(kerr.CoordinatorNotAvailable.Code)
		return <-w.ch
	}
	if code := c.checkJoin(req); code != 0 {
		w.fail(code)
		return <-w.ch
	}
	s := c.shardFor(req.Group)
	if !s.do(func() { s.join(joinRequest{req, clientID, host, w}) }) {
		w.fail(kerr.CoordinatorNotAvailable.Code)
	}
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
		r := kmsg.NewPtrJoinGroupResponse() // the connection is gone; nobody reads this
		r.Version, r.ErrorCode = req.Version, kerr.RebalanceInProgress.Code
		return r
	case <-c.done:
		r := kmsg.NewPtrJoinGroupResponse()
		r.Version, r.ErrorCode = req.Version, kerr.CoordinatorNotAvailable.Code
		return r
	}
}

// checkJoin validates what needs no group state.
func (c *Coordinator) checkJoin(req *kmsg.JoinGroupRequest) int16 {
	if code := c.checkGroup(req.Group, false); code != 0 {
		return code
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return kerr.InvalidSessionTimeout.Code
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		return kerr.InconsistentGroupProtocol.Code
	}
	return 0
}

// SyncGroup runs a SyncGroup request; during a rebalance it blocks until
// the leader's assignment is stored durably (the leader's own call too),
// the store fails, or the group rebalances again.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	w := &syncWait{ch: make(chan *kmsg.SyncGroupResponse, 1), version: req.Version}
	if c == nil {
		w.fail(kerr.CoordinatorNotAvailable.Code)
		return <-w.ch
	}
	if code := c.checkGroup(req.Group, false); code != 0 {
		w.fail(code)
		return <-w.ch
	}
	s := c.shardFor(req.Group)
	if !s.do(func() { s.sync(req, w) }) {
		w.fail(kerr.CoordinatorNotAvailable.Code)
	}
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
		r := kmsg.NewPtrSyncGroupResponse()
		r.Version, r.ErrorCode = req.Version, kerr.RebalanceInProgress.Code
		return r
	case <-c.done:
		r := kmsg.NewPtrSyncGroupResponse()
		r.Version, r.ErrorCode = req.Version, kerr.CoordinatorNotAvailable.Code
		return r
	}
}

// Heartbeat runs a Heartbeat request and returns its error code.
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) int16 {
	if c == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	if code := c.checkGroup(req.Group, false); code != 0 {
		return code
	}
	s := c.shardFor(req.Group)
	code, err := call(ctx, s, func() int16 { return s.heartbeat(req) })
	if err != nil {
		return codeOf(errClosed)
	}
	return code
}

// LeaveGroup removes members and returns an error code per member, in
// order, and a code for the whole request.
func (c *Coordinator) LeaveGroup(ctx context.Context, groupID string, members []kmsg.LeaveGroupRequestMember) ([]int16, int16) {
	if c == nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if code := c.checkGroup(groupID, false); code != 0 {
		return nil, code
	}
	s := c.shardFor(groupID)
	codes, err := call(ctx, s, func() []int16 { return s.leave(groupID, members) })
	if err != nil {
		return nil, codeOf(errClosed)
	}
	return codes, 0
}
