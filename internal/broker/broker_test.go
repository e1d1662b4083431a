package broker

import (
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// TestHTTPListenersFollowTheListener: left at its default, the HTTP
// listener takes the first listener's host, so several brokers on one
// machine (127.0.0.1, .2, .3) do not all claim 127.0.0.1:9644; set, it is
// used as given.
func TestHTTPListenersFollowTheListener(t *testing.T) {
	for _, tc := range []struct {
		flags map[string]string
		want  []string
	}{
		{map[string]string{}, []string{"127.0.0.1:9644"}},
		{map[string]string{"listeners": "PLAINTEXT://127.0.0.2:19092,CONTROLLER://127.0.0.2:19093",
			"controller.listener.names": "CONTROLLER", "controller.quorum.voters": "1@127.0.0.2:19093",
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"}, []string{"127.0.0.2:9644"}},
		{map[string]string{"listeners": "PLAINTEXT://:19092"}, []string{":9644"}},
		{map[string]string{"listeners": "PLAINTEXT://127.0.0.2:19092", "http.listeners": "127.0.0.1:8080"}, []string{"127.0.0.1:8080"}},
	} {
		cfg, _, err := config.Load("", nil, tc.flags)
		if err != nil {
			t.Fatalf("%v: %v", tc.flags, err)
		}
		if got := (&Broker{cfg: cfg}).httpListeners(); !slices.Equal(got, tc.want) {
			t.Errorf("%v: http listeners %v, want %v", tc.flags, got, tc.want)
		}
	}
}
