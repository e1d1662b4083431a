package handler

// IncrementalAlterConfigs, key 44, versions 0-1: SET, DELETE, APPEND and
// SUBTRACT on a topic's overrides, all of one resource or none; deletes
// of the replication throttles, never set, succeed on brokers and topics
// (throttles.go). Each
// resource needs ALTER_CONFIGS on itself, or on the cluster for broker and
// broker logger configs (configDenied), as Kafka asks.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// Incremental operations, as IncrementalAlterConfigs numbers them.
const (
	opSet      = 0
	opDelete   = 1
	opAppend   = 2
	opSubtract = 3
)

// applyIncremental applies one IncrementalAlterConfigs operation.
func applyIncremental(cur map[string]string, c kmsg.IncrementalAlterConfigsRequestResourceConfig, defaults *config.Topic) error {
	if isThrottleDelete(c) {
		return nil // never set (throttles.go)
	}
	d, err := topicKey(c.Name)
	if err != nil {
		return err
	}
	value := ""
	if c.Value != nil {
		value = *c.Value
	}
	switch c.Op {
	case opSet:
		if c.Value == nil {
			return fmt.Errorf("%w: %s: SET needs a value", kerr.InvalidConfig, c.Name)
		}
		cur[c.Name] = value
	case opDelete:
		delete(cur, c.Name)
	case opAppend, opSubtract:
		if d.Type != config.TypeList {
			return fmt.Errorf("%w: %s is not a list; APPEND and SUBTRACT apply to lists", kerr.InvalidConfig, c.Name)
		}
		list := defaults.List(c.Name)
		if v, ok := cur[c.Name]; ok {
			list = splitList(v)
		}
		for _, item := range splitList(value) {
			i := slices.Index(list, item)
			switch {
			case c.Op == opAppend && i < 0:
				list = append(list, item)
			case c.Op == opSubtract && i >= 0:
				list = slices.Delete(list, i, i+1)
			}
		}
		cur[c.Name] = strings.Join(list, ",")
	default:
		return fmt.Errorf("%w: unknown operation %d on %s", kerr.InvalidRequest, c.Op, c.Name)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// IncrementalAlterConfigs, key 44, versions 0-1: SET, DELETE, APPEND and
// SUBTRACT on a topic's overrides, all of one resource or none.
func (h *Handler) incrementalAlterConfigs(ctx context.Context, who protocol.Principal, req *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	defaults, _ := h.b.Config.Topic(nil)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := h.configDenied(ctx, who, kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName)
		if err == nil && rr.ResourceType == kmsg.ConfigResourceTypeBroker && onlyThrottleDeletes(rr.Configs) {
			resp.Resources = append(resp.Resources, sr) // nothing to delete (throttles.go)
			continue
		}
		if err == nil {
			err = checkResource(rr.ResourceType)
		}
		if err == nil {
			err = h.alterTopicConfigs(rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
				if cur == nil {
					cur = map[string]string{}
				}
				for _, c := range rr.Configs {
					if err := applyIncremental(cur, c, defaults); err != nil {
						return nil, err
					}
				}
				return cur, nil
			}, req.ValidateOnly)
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}
