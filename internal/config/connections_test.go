package config

import (
	"maps"
	"testing"
)

func TestConnectionsPerIPOverrides(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]int
		bad  bool
	}{
		{in: "", want: map[string]int{}},
		{in: "10.0.0.1:200, 10.0.0.2:0", want: map[string]int{"10.0.0.1": 200, "10.0.0.2": 0}},
		{in: "broker-a:5,::1:3,[fe80::1]:4", want: map[string]int{"broker-a": 5, "::1": 3, "fe80::1": 4}},
		{in: "10.0.0.1", bad: true},
		{in: "10.0.0.1:-1", bad: true},
		{in: ":5", bad: true},
		{in: "h:x", bad: true},
	} {
		got, err := ConnectionsPerIPOverrides(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && !maps.Equal(got, tc.want)) {
			t.Errorf("ConnectionsPerIPOverrides(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
