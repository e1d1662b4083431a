package handler

// CreateTopics, key 19, versions 2-7: validates names, partition counts,
// replication factors (at most the live brokers), replica assignments and
// configs; partitions are placed by the metadata store unless assigned;
// ValidateOnly checks without creating; from v5 the response carries the
// resulting configs, from v7 the topic id. TimeoutMillis bounds the whole
// request (see timedReply): a topic not created in time gets
// REQUEST_TIMED_OUT.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) createTopics(ctx context.Context, who protocol.Principal, req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	twice := namedTwice(req.Topics, func(rt kmsg.CreateTopicsRequestTopic) string { return rt.Topic })
	answered := make(map[string]bool, len(twice))
	for _, rt := range req.Topics {
		// A name given more than once is answered once, with
		// INVALID_REQUEST, where it first appears, as Kafka does
		// (KafkaApis.handleCreateTopicsRequest keeps one result per name).
		if twice[rt.Topic] {
			if answered[rt.Topic] {
				continue
			}
			answered[rt.Topic] = true
		}
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		var err error
		if twice[rt.Topic] {
			err = fmt.Errorf("%w: topic %q is named more than once in the request", kerr.InvalidRequest, rt.Topic)
		} else if !h.mayCreateTopic(ctx, who, rt.Topic) {
			err = fmt.Errorf("%w: Authorization failed.", kerr.TopicAuthorizationFailed)
		} else {
			err = h.createTopicFrom(ctx, req, rt, &st)
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
			st.NumPartitions, st.ReplicationFactor = -1, -1
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (h *Handler) createTopicFrom(ctx context.Context, req *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic) error {
	partitions, rf := rt.NumPartitions, rt.ReplicationFactor
	var assigned [][]int32
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 || rf != -1 {
			return fmt.Errorf("%w: give either a replica assignment or partitions and replication factor", kerr.InvalidRequest)
		}
		for i, a := range rt.ReplicaAssignment {
			if a.Partition != int32(i) || len(a.Replicas) != len(rt.ReplicaAssignment[0].Replicas) {
				return fmt.Errorf("%w: partitions must be numbered from 0 and have the same number of replicas", kerr.InvalidReplicaAssignment)
			}
			for _, id := range a.Replicas {
				if !h.b.Meta.Image().Live(id) {
					return fmt.Errorf("%w: broker %d is not registered and live", kerr.InvalidReplicaAssignment, id)
				}
			}
			assigned = append(assigned, a.Replicas)
		}
		partitions, rf = int32(len(rt.ReplicaAssignment)), int16(len(rt.ReplicaAssignment[0].Replicas))
	}
	configs := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value == nil {
			continue
		}
		configs[c.Name] = *c.Value
	}
	// Kafka checks existence before the settings, so "create if missing"
	// tools get TOPIC_ALREADY_EXISTS whatever they asked for.
	if _, ok := h.b.Meta.Image().Topics[rt.Topic]; ok {
		return fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, rt.Topic)
	}
	spec, err := h.b.Topics.Check(rt.Topic, partitions, rf, configs)
	if err != nil {
		return err
	}
	spec.Assignment = assigned
	st.NumPartitions, st.ReplicationFactor = spec.Partitions, spec.ReplicationFactor
	st.Configs = createTopicConfigs(spec.Config)
	if req.ValidateOnly {
		return nil
	}
	t, err := h.b.Topics.Create(ctx, spec)
	if err != nil {
		return err
	}
	st.TopicID = t.ID
	return nil
}

func createTopicConfigs(cfg *config.Topic) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	cfg.Each(func(d *config.Def, value string, source config.Source) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Source, c.IsSensitive = d.Name, int8(source), d.Sensitive
		if !d.Sensitive {
			v := value
			c.Value = &v
		}
		out = append(out, c)
	})
	return out
}
