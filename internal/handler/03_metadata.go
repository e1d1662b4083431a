package handler

// Metadata, key 3, versions 0-12. Topics are auto-created on request when
// auto.create.topics.enable is on and the request allows it (always before
// v4, AllowAutoTopicCreation from v4). Unlike Kafka, an auto-created topic
// is answered ready at once instead of LEADER_NOT_AVAILABLE.
//
// Not implemented: authorized operations (no ACLs yet).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
)

func (h *Handler) metadata(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	im := h.b.Meta.Image()
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = h.b.NodeID, h.b.Host, h.b.Port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	resp.ClusterID = &im.ClusterID
	resp.ControllerID = h.b.NodeID

	// v0 asks for all topics with an empty list, later versions with null.
	if req.Topics == nil || req.Version == 0 && len(req.Topics) == 0 {
		for _, t := range im.SortedTopics() {
			resp.Topics = append(resp.Topics, h.metadataTopic(t))
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
			}
		default:
			t, err = h.metadataLookup(im, *rt.Topic, autoCreate)
		}
		if err != nil {
			st := kmsg.NewMetadataResponseTopic()
			st.Topic, st.TopicID, st.ErrorCode = rt.Topic, rt.TopicID, errorCode(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		resp.Topics = append(resp.Topics, h.metadataTopic(t))
	}
	return resp
}

// metadataLookup finds a topic by name, creating it if allowed.
func (h *Handler) metadataLookup(im *metadata.Image, name string, autoCreate bool) (*metadata.Topic, error) {
	if t, ok := im.Topics[name]; ok {
		return t, nil
	}
	if err := validTopicName(name); err != nil {
		return nil, err
	}
	if !autoCreate {
		return nil, kerr.UnknownTopicOrPartition
	}
	spec, err := h.checkTopic(name, -1, -1, nil)
	if err != nil {
		return nil, err
	}
	t, err := h.createTopic(spec)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		// Another request created it between our look and our create.
		if t, ok := h.b.Meta.Image().Topics[name]; ok {
			return t, nil
		}
	}
	return t, err
}

func (h *Handler) metadataTopic(t *metadata.Topic) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := t.Name
	st.Topic, st.TopicID = &name, t.ID
	st.IsInternal = group.IsInternalTopic(t.Name)
	for i := range t.Partitions {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition, sp.Leader, sp.LeaderEpoch = i, h.b.NodeID, 0
		sp.Replicas, sp.ISR, sp.OfflineReplicas = []int32{h.b.NodeID}, []int32{h.b.NodeID}, []int32{}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}
