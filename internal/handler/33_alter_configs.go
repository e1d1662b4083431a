package handler

// AlterConfigs, key 33, versions 0-2, and the part IncrementalAlterConfigs
// shares: a topic's new overrides are validated whole and applied whole,
// or not at all, then persisted and applied to its partitions live.
// Broker configs are static here and refused. Each resource needs
// ALTER_CONFIGS on itself, or on the cluster for broker configs
// (configDenied), as Kafka's ControllerApis asks, before anything else is
// checked.

import (
	"context"
	"fmt"
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// alterTopicConfigs validates overrides for topic and, unless
// validateOnly, stores and applies them.
func (h *Handler) alterTopicConfigs(topic string, change func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	t, ok := h.b.Meta.Image().Topics[topic]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	next, err := change(maps.Clone(t.Configs))
	if err != nil {
		return err
	}
	if _, err := h.b.Config.Topic(next); err != nil {
		return fmt.Errorf("%w: %w", kerr.InvalidConfig, err)
	}
	if validateOnly {
		return nil
	}
	ctx, cancel := changeContext()
	defer cancel()
	if err := h.b.Meta.SetConfigs(ctx, topic, next); err != nil {
		return err
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	h.b.Logger.Info("altered topic configs", "topic", topic, "configs", next)
	return nil
}

// checkResource answers what a resource other than a topic gets.
func checkResource(resourceType kmsg.ConfigResourceType) error {
	switch resourceType {
	case kmsg.ConfigResourceTypeTopic:
		return nil
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		return fmt.Errorf("%w: broker configs are static in this version of sluice; set them in server.properties, KAFKA_ variables or flags", kerr.InvalidRequest)
	default:
		return fmt.Errorf("%w: resource type %d cannot be altered", kerr.InvalidRequest, resourceType)
	}
}

// topicKey checks that name is a topic config key.
func topicKey(name string) (*config.Def, error) {
	d, ok := config.LookupScope(config.ScopeTopic, name)
	if !ok {
		return nil, fmt.Errorf("%w: unknown topic config %q", kerr.InvalidConfig, name)
	}
	return d, nil
}

// AlterConfigs, key 33, versions 0-2: replaces a topic's overrides with
// the given set (keys not named go back to their defaults). Broker configs
// are static here and refused.
func (h *Handler) alterConfigs(ctx context.Context, who protocol.Principal, req *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if rr.ResourceType != kmsg.ConfigResourceTypeBrokerLogger {
			// AlterConfigs never serves broker loggers: Kafka refuses
			// them before it asks (ConfigAdminManager.preprocess).
			err = h.configDenied(ctx, who, kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName)
		}
		if err == nil {
			err = checkResource(rr.ResourceType)
		}
		if err == nil {
			err = h.alterTopicConfigs(rr.ResourceName, func(map[string]string) (map[string]string, error) {
				next := map[string]string{}
				for _, c := range rr.Configs {
					if _, err := topicKey(c.Name); err != nil {
						return nil, err
					}
					if c.Value != nil {
						next[c.Name] = *c.Value
					}
				}
				return next, nil
			}, req.ValidateOnly)
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}
