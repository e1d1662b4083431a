package handler

// DescribeConfigs, key 32, versions 1-4: topic and broker configs with
// their sources, synonyms (v1+, when asked), types and documentation (v3+).
// The view is read-only here; AlterConfigs come with the configs issue.
// Each resource needs DESCRIBE_CONFIGS on itself, or on the cluster for
// broker configs (configDenied), as Kafka's ConfigHelper asks; a denied
// one is answered with its *_AUTHORIZATION_FAILED code and no configs.
//
// Not implemented: BROKER_LOGGER resources (answered INVALID_REQUEST).

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) describeConfigs(ctx context.Context, who protocol.Principal, req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []kmsg.DescribeConfigsResponseResourceConfig
		err := h.configDenied(ctx, who, kmsg.ACLOperationDescribeConfigs, rr.ResourceType, rr.ResourceName)
		if err == nil {
			entries, err = h.configEntries(req, rr)
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		}
		sr.Configs = entries
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func (h *Handler) configEntries(req *kmsg.DescribeConfigsRequest, rr kmsg.DescribeConfigsRequestResource) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	wanted := func(string) bool { return true }
	if rr.ConfigNames != nil {
		names := map[string]bool{}
		for _, n := range rr.ConfigNames {
			names[n] = true
		}
		wanted = func(n string) bool { return names[n] }
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	add := func(d *config.Def, value string, source config.Source) {
		if !wanted(d.Name) {
			return
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Source, c.IsSensitive = d.Name, kmsg.ConfigSource(source), d.Sensitive
		c.ReadOnly = d.Scope == config.ScopeBroker && !d.Dynamic
		if !d.Sensitive {
			v := value
			c.Value = &v
		}
		if req.IncludeSynonyms {
			c.ConfigSynonyms = h.synonyms(d, value, source)
		}
		c.ConfigType = kmsg.ConfigType(d.Type.ConfigType())
		if req.IncludeDocumentation {
			doc := d.Doc
			c.Documentation = &doc
		}
		out = append(out, c)
	}
	switch kmsg.ConfigResourceType(rr.ResourceType) {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := h.b.Meta.Image().Topics[rr.ResourceName]
		if !ok {
			return nil, kerr.UnknownTopicOrPartition
		}
		h.settings(t).Config.Each(add)
	case kmsg.ConfigResourceTypeBroker:
		if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(h.b.NodeID)) {
			return nil, fmt.Errorf("%w: broker %q is not this broker (%d)", kerr.InvalidRequest, rr.ResourceName, h.b.NodeID)
		}
		h.b.Config.Each(add)
	default:
		return nil, fmt.Errorf("%w: resource type %d is not supported", kerr.InvalidRequest, rr.ResourceType)
	}
	return out, nil
}

// synonyms lists, as Kafka does, where a value could come from in order of
// precedence: the topic override, the broker key set in the file or
// environment, and the broker key's default.
func (h *Handler) synonyms(d *config.Def, value string, source config.Source) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	syn := func(name, v string, s config.Source) {
		c := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		c.Name, c.Source = name, kmsg.ConfigSource(s)
		if !d.Sensitive {
			c.Value = &v
		}
		out = append(out, c)
	}
	if source == config.SourceDynamicTopic {
		syn(d.Name, value, source)
	}
	key := d.Name
	if d.Scope == config.ScopeTopic {
		key = d.BrokerKey
	}
	if key == "" {
		return out
	}
	bd, ok := config.Lookup(key)
	if !ok {
		return out
	}
	if h.b.Config.Source(key) == config.SourceStaticBroker {
		syn(key, h.b.Config.String(key), config.SourceStaticBroker)
	}
	if !bd.Nullable || bd.Default != "" {
		syn(key, bd.Default, config.SourceDefault)
	}
	return out
}
