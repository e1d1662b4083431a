package handler

// Metadata, key 3, versions 0-12. Topics are auto-created on request when
// auto.create.topics.enable is on and the request allows it (always before
// v4, AllowAutoTopicCreation from v4). Unlike Kafka, an auto-created topic
// is answered ready at once instead of LEADER_NOT_AVAILABLE.
//
// Topics the principal may not DESCRIBE are left out of an all-topics
// answer and answered TOPIC_AUTHORIZATION_FAILED when named, whether they
// exist or not, so their existence is not disclosed; auto-creation also
// needs CREATE (authorize.go).
//
// Partitions are answered from the metadata image as Kafka's
// KRaftMetadataCache answers them: the replicas, the ISR, the offline
// replicas (those whose broker is fenced or not registered) and the
// leader epoch. A partition without a live leader has leader -1 and
// LEADER_NOT_AVAILABLE. Version 0 lists only the live replicas and ISR
// members, and answers REPLICA_NOT_AVAILABLE when it left some out
// (Kafka's errorUnavailableEndpoints, which exists for v0 only).
//
// Not implemented: authorized operations (no ACLs yet).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/topics"
)

// The brokers are listed with their addresses on listener, the one the
// request came in on, as Kafka answers; brokers without it are left out.
func (h *Handler) metadata(ctx context.Context, who protocol.Principal, listener string, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	im := h.b.Meta.Image()
	for _, lb := range liveBrokers(im, listener) {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = lb.id, lb.Host, lb.Port, lb.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	resp.ClusterID = &im.ClusterID
	resp.ControllerID = h.controllerID(im)

	// v0 asks for all topics with an empty list, later versions with null.
	if req.Topics == nil || req.Version == 0 && len(req.Topics) == 0 {
		for _, t := range im.SortedTopics() {
			if h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, t.Name) {
				resp.Topics = append(resp.Topics, h.metadataTopic(im, t, req.Version))
			}
		}
		return resp
	}
	autoCreate := h.b.Config.Bool("auto.create.topics.enable") && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *metadata.Topic
		var err error
		switch {
		case rt.Topic == nil:
			var ok bool
			if t, ok = im.TopicByID(rt.TopicID); !ok {
				err = kerr.UnknownTopicID
			} else if !h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, t.Name) {
				err = kerr.TopicAuthorizationFailed
			}
		default:
			t, err = h.metadataNamed(ctx, who, im, *rt.Topic, autoCreate)
		}
		if err != nil {
			st := kmsg.NewMetadataResponseTopic()
			st.Topic, st.TopicID, st.ErrorCode = rt.Topic, rt.TopicID, errorCode(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		resp.Topics = append(resp.Topics, h.metadataTopic(im, t, req.Version))
	}
	return resp
}

// metadataNamed resolves a topic the request names, authorized as Kafka
// does: DESCRIBE first, whether the topic exists or not, so that its
// existence is not disclosed; then, for a topic to auto-create, CREATE on
// the cluster or the topic.
func (h *Handler) metadataNamed(ctx context.Context, who protocol.Principal, im *metadata.Image, name string, autoCreate bool) (*metadata.Topic, error) {
	if !h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, name) {
		return nil, kerr.TopicAuthorizationFailed
	}
	if _, ok := im.Topics[name]; !ok && autoCreate && !h.mayCreateTopic(ctx, who, name) {
		return nil, kerr.TopicAuthorizationFailed
	}
	return h.metadataLookup(im, name, autoCreate)
}

// metadataLookup finds a topic by name, creating it if allowed.
func (h *Handler) metadataLookup(im *metadata.Image, name string, autoCreate bool) (*metadata.Topic, error) {
	if t, ok := im.Topics[name]; ok {
		return t, nil
	}
	if err := topics.ValidName(name); err != nil {
		return nil, err
	}
	if !autoCreate {
		return nil, kerr.UnknownTopicOrPartition
	}
	spec, err := h.b.Topics.Check(name, -1, -1, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := changeContext()
	defer cancel()
	t, err := h.b.Topics.Create(ctx, spec)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		// Another request created it between our look and our create.
		if t, ok := h.b.Meta.Image().Topics[name]; ok {
			return t, nil
		}
	}
	return t, err
}

func (h *Handler) metadataTopic(im *metadata.Image, t *metadata.Topic, version int16) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := t.Name
	st.Topic, st.TopicID = &name, t.ID
	st.IsInternal = group.IsInternalTopic(t.Name)
	for i, a := range t.Assignments {
		st.Partitions = append(st.Partitions, metadataPartition(im, int32(i), a, version))
	}
	return st
}

// metadataPartition answers one partition of the image. The leader is
// answered only while it is live; the controller takes leadership from a
// fenced broker, so a fenced leader would be a moment's race, and naming
// a broker the response does not list would send clients nowhere.
func metadataPartition(im *metadata.Image, index int32, a metadata.Partition, version int16) kmsg.MetadataResponseTopicPartition {
	sp := kmsg.NewMetadataResponseTopicPartition()
	sp.Partition, sp.Leader, sp.LeaderEpoch = index, a.Leader, a.LeaderEpoch
	sp.Replicas, sp.ISR, sp.OfflineReplicas = a.Replicas, a.ISR, offlineReplicas(im, a.Replicas)
	if version == 0 {
		sp.Replicas, sp.ISR = liveOnly(im, a.Replicas), liveOnly(im, a.ISR)
	}
	switch {
	case a.Leader == metadata.NoLeader || !im.Live(a.Leader):
		sp.Leader = metadata.NoLeader
		sp.ErrorCode = kerr.LeaderNotAvailable.Code
	case len(sp.Replicas) < len(a.Replicas) || len(sp.ISR) < len(a.ISR):
		sp.ErrorCode = kerr.ReplicaNotAvailable.Code
	}
	return sp
}

// offlineReplicas lists the replicas whose broker is fenced or not
// registered, never nil (librdkafka reads the array).
func offlineReplicas(im *metadata.Image, replicas []int32) []int32 {
	out := []int32{}
	for _, r := range replicas {
		if !im.Live(r) {
			out = append(out, r)
		}
	}
	return out
}

// liveOnly returns the brokers of ids that are registered and unfenced.
func liveOnly(im *metadata.Image, ids []int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if im.Live(id) {
			out = append(out, id)
		}
	}
	return out
}

// liveBroker is a broker as Metadata and DescribeCluster list it.
type liveBroker struct {
	id int32
	metadata.Endpoint
	rack *string
}

// liveBrokers lists the unfenced brokers with their advertised listener
// named listener (the first one when listener is ""); a broker without
// that listener is left out, since a client on it could not reach the
// broker.
func liveBrokers(im *metadata.Image, listener string) []liveBroker {
	var out []liveBroker
	for _, b := range im.LiveBrokers() {
		if e, ok := im.Endpoint(b.ID, listener); ok {
			out = append(out, liveBroker{b.ID, e, b.Rack})
		}
	}
	return out
}

// controllerID is the id clients are told is the controller: the active
// controller when it is also a live broker (clients send it admin
// requests), else some live broker, as Kafka's KRaft brokers answer; any
// broker takes admin requests.
func (h *Handler) controllerID(im *metadata.Image) int32 {
	if leader := h.b.Meta.Leader(); im.Live(leader) {
		return leader
	}
	if live := im.LiveBrokers(); len(live) > 0 {
		return live[0].ID
	}
	return -1
}
