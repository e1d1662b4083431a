package kclient

import (
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBrokers(t *testing.T) {
	for _, tc := range []struct {
		flag, env, want string
	}{
		{"", "", DefaultBrokers},
		{"", "a:1,b:2", "a:1,b:2"},
		{"c:3", "a:1", "c:3"},
		{" , ", "a:1", " , "}, // given but blank: the caller refuses it
	} {
		t.Setenv(BrokersEnv, tc.env)
		if got := Brokers(tc.flag); got != tc.want {
			t.Errorf("Brokers(%q) with $%s=%q = %q, want %q", tc.flag, BrokersEnv, tc.env, got, tc.want)
		}
	}
}

func TestSplitBrokers(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string
	}{
		{"a:1", []string{"a:1"}},
		{" a:1 , ,b:2,", []string{"a:1", "b:2"}},
		{" , ", nil},
		{"", nil},
	} {
		if got := SplitBrokers(tc.list); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitBrokers(%q) = %q, want %q", tc.list, got, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		if _, ok := Compression(name); !ok {
			t.Errorf("Compression(%q) refused", name)
		}
	}
	for _, name := range []string{"", "GZIP", "brotli"} {
		if _, ok := Compression(name); ok {
			t.Errorf("Compression(%q) accepted", name)
		}
	}
	for name, want := range map[string]kgo.Acks{"all": kgo.AllISRAcks(), "-1": kgo.AllISRAcks(), "1": kgo.LeaderAck(), "0": kgo.NoAck()} {
		if got, ok := Acks(name); !ok || got != want {
			t.Errorf("Acks(%q) = %v, %v", name, got, ok)
		}
	}
	for _, name := range []string{"", "2", "ALL"} {
		if _, ok := Acks(name); ok {
			t.Errorf("Acks(%q) accepted", name)
		}
	}
}

func TestNew(t *testing.T) {
	cfg := Config{Seeds: []string{"127.0.0.1:1"}, ClientID: "sluice-test", DialTimeout: time.Second}
	cl, err := New(cfg, kgo.MetadataMinAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.ClientID); got != "sluice-test" {
		t.Errorf("client id %v, want sluice-test", got)
	}
	if got := cl.OptValue(kgo.DialTimeout); got != time.Second {
		t.Errorf("dial timeout %v, want 1s", got)
	}
	if got := cl.OptValue(kgo.SeedBrokers); !reflect.DeepEqual(got, []string{"127.0.0.1:1"}) {
		t.Errorf("seeds %v", got)
	}
}
