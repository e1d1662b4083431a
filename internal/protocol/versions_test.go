package protocol

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAdvertisedTable: every advertised range is contiguous,
// within what kmsg can decode, and includes the old versions DESIGN.md
// promises to old clients.
func TestAdvertisedTable(t *testing.T) {
	for key, r := range advertised {
		req := kmsg.RequestForKey(key)
		if req == nil {
			t.Errorf("key %d is advertised but kmsg does not know it", key)
			continue
		}
		if r.min < 0 || r.min > r.max || r.max > req.MaxVersion() {
			t.Errorf("%s advertised %d-%d; kmsg knows up to %d", kmsg.NameForKey(key), r.min, r.max, req.MaxVersion())
		}
		for v := int16(-1); v <= r.max+1; v++ {
			if got, want := Supported(key, v), v >= r.min && v <= r.max; got != want {
				t.Errorf("Supported(%s, %d) = %v", kmsg.NameForKey(key), v, got)
			}
		}
	}
	for key, v := range map[kmsg.Key]int16{kmsg.ApiVersions: 0, kmsg.Metadata: 0, kmsg.Produce: 3, kmsg.Fetch: 4} {
		if !Supported(key.Int16(), v) {
			t.Errorf("%s v%d is not advertised", key.Name(), v)
		}
	}
	if Supported(12345, 0) || Supported(-1, 0) {
		t.Errorf("unknown keys are supported")
	}
	resp := UnsupportedApiVersions()
	if resp.GetVersion() != 0 || resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != len(advertised) {
		t.Errorf("UnsupportedApiVersions: v%d error %d with %d keys", resp.GetVersion(), resp.ErrorCode, len(resp.ApiKeys))
	}
	for i := 1; i < len(resp.ApiKeys); i++ {
		if resp.ApiKeys[i-1].ApiKey >= resp.ApiKeys[i].ApiKey {
			t.Errorf("ApiVersions keys are not sorted: %d before %d", resp.ApiKeys[i-1].ApiKey, resp.ApiKeys[i].ApiKey)
		}
	}
}
