package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/admin"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/record"
)

// fakeBroker is a broker with one topic "orders" of two partitions.
type fakeBroker struct {
	created   []string
	deleted   []string
	readFrom  int64 // the offset of the last ReadRecords
	records   []admin.Record
	timestamp int64 // the last OffsetForTimestamp
}

func (f *fakeBroker) NodeID() int32     { return 1 }
func (f *fakeBroker) ClusterID() string { return "cluster-1" }
func (f *fakeBroker) Endpoint() string  { return "127.0.0.1:9092" }
func (f *fakeBroker) Topics() []admin.TopicInfo {
	t, _ := f.Topic("orders")
	t.Configs = nil
	return []admin.TopicInfo{t}
}
func (f *fakeBroker) Topic(name string) (admin.TopicInfo, error) {
	if name != "orders" {
		return admin.TopicInfo{}, admin.ErrUnknownTopic
	}
	return admin.TopicInfo{Name: "orders", ID: "id", UnderReplicated: 1, Partitions: []admin.PartitionInfo{
		{Partition: 0, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, OfflineReplicas: []int32{},
			LogStartOffset: 10, HighWatermark: 110, LogEndOffset: 110, SizeBytes: 1000},
		{Partition: 1, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1}, OfflineReplicas: []int32{2}, UnderReplicated: true,
			LogStartOffset: 0, HighWatermark: 5, LogEndOffset: 5, SizeBytes: 50},
	}, Configs: []admin.ConfigEntry{{Name: "retention.ms", Value: "1000", Source: "DYNAMIC_TOPIC_CONFIG"}}}, nil
}
func (f *fakeBroker) CreateTopic(name string, partitions int32, configs map[string]string) error {
	if name == "orders" {
		return fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, name)
	}
	if name == "" {
		return fmt.Errorf("%w: topic name \"\" must be 1 to 249 characters", kerr.InvalidTopicException)
	}
	f.created = append(f.created, fmt.Sprintf("%s/%d/%v", name, partitions, configs))
	return nil
}
func (f *fakeBroker) DeleteTopic(name string) error {
	if name != "orders" {
		return admin.ErrUnknownTopic
	}
	f.deleted = append(f.deleted, name)
	return nil
}
func (f *fakeBroker) OffsetForTimestamp(topic string, partition int32, ts int64) (int64, error) {
	f.timestamp = ts
	return 42, nil
}
func (f *fakeBroker) ReadRecords(topic string, partition int32, offset int64, limit int) (admin.Records, error) {
	f.readFrom = offset
	return admin.Records{LogStartOffset: 10, HighWatermark: 110, Records: f.records, NextOffset: offset + int64(len(f.records))}, nil
}
func (f *fakeBroker) Groups(ctx context.Context) ([]admin.GroupSummary, error) {
	return []admin.GroupSummary{{Group: "billing", State: "Stable", ProtocolType: "consumer", Members: 1, TotalLag: 7}}, nil
}
func (f *fakeBroker) Group(ctx context.Context, id string) (admin.GroupInfo, error) {
	if id != "billing" {
		return admin.GroupInfo{}, admin.ErrUnknownGroup
	}
	return admin.GroupInfo{Group: "billing", State: "Stable", TotalLag: 7}, nil
}

// start runs a server on a free port; ready says whether it has a broker.
func start(t *testing.T, ready bool) (*Server, *fakeBroker, string) {
	t.Helper()
	s := New(Config{Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fakeBroker{}
	if ready {
		s.SetReady(f)
	}
	addrs := s.Addrs()
	if len(addrs) != 1 || strings.HasSuffix(addrs[0], ":0") {
		t.Fatalf("Addrs() = %v, want the bound port", addrs)
	}
	return s, f, "http://" + addrs[0]
}

func do(t *testing.T, method, url, contentType, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHealthAndReadiness(t *testing.T) {
	s, f, base := start(t, false)
	if code, _, _ := do(t, "GET", base+"/healthz", "", ""); code != 200 {
		t.Errorf("/healthz while starting = %d, want 200", code)
	}
	if code, _, _ := do(t, "GET", base+"/readyz", "", ""); code != 503 {
		t.Errorf("/readyz while starting = %d, want 503", code)
	}
	if code, body, _ := do(t, "GET", base+"/api/v1/topics", "", ""); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("API while starting = %d %s, want 503", code, body)
	}
	s.SetReady(f)
	if code, _, _ := do(t, "GET", base+"/readyz", "", ""); code != 200 {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	_, _, base := start(t, true)
	code, body, _ := do(t, "GET", base+"/metrics", "", "")
	if code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Errorf("/metrics = %d, missing Go runtime metrics:\n%.500s", code, body)
	}
}

func TestConsoleServed(t *testing.T) {
	_, _, base := start(t, true)
	for path, want := range map[string]string{"/": "<title>Sluice console</title>", "/app.js": "POLL_MS", "/app.css": "--accent"} {
		code, body, h := do(t, "GET", base+path, "", "")
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want the embedded file", path, code)
		}
		if h.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s has no Content-Security-Policy", path)
		}
	}
	if code, _, _ := do(t, "POST", base+"/", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", code)
	}
	if code, _, _ := do(t, "GET", base+"/api/v1/nope", "", ""); code != 404 {
		t.Errorf("unknown API path = %d, want 404", code)
	}
}

func TestTopicsAPI(t *testing.T) {
	_, f, base := start(t, true)
	tests := []struct {
		method, path, contentType, body string
		status                          int
		contains                        string
	}{
		{"GET", "/api/v1/topics", "", "", 200, `"messages": 105`},
		{"GET", "/api/v1/topics/orders", "", "", 200, `"retention.ms"`},
		{"GET", "/api/v1/topics", "", "", 200, `"underReplicated": 1`},
		{"GET", "/api/v1/topics/orders", "", "", 200, `"underReplicated": true`},
		{"GET", "/api/v1/overview", "", "", 200, `"underReplicated": 1`},
		{"GET", "/api/v1/topics/missing", "", "", 404, `"UNKNOWN_TOPIC_OR_PARTITION"`},
		{"POST", "/api/v1/topics", "application/json", `{"name":"new","partitions":3,"configs":{"retention.ms":"5"}}`, 404, ""}, // created, then not found by the fake
		{"POST", "/api/v1/topics", "application/json", `{"name":"orders"}`, 409, `"TOPIC_ALREADY_EXISTS"`},
		{"POST", "/api/v1/topics", "application/json", `{"name":""}`, 400, `"INVALID_TOPIC_EXCEPTION"`},
		{"POST", "/api/v1/topics", "application/json", `{"name":"x","bogus":1}`, 400, "unknown field"},
		{"POST", "/api/v1/topics", "text/plain", `{"name":"x"}`, 415, "application/json"},
		{"DELETE", "/api/v1/topics/orders", "", "", 204, ""},
		{"DELETE", "/api/v1/topics/missing", "", "", 404, ""},
		{"GET", "/api/v1/overview", "", "", 200, `"clusterId": "cluster-1"`},
		{"GET", "/api/v1/groups", "", "", 200, `"totalLag": 7`},
		{"GET", "/api/v1/groups/billing", "", "", 200, `"state": "Stable"`},
		{"GET", "/api/v1/groups/nope", "", "", 404, `"GROUP_ID_NOT_FOUND"`},
	}
	for _, tt := range tests {
		code, body, _ := do(t, tt.method, base+tt.path, tt.contentType, tt.body)
		if code != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s %s = %d %s, want %d containing %q", tt.method, tt.path, tt.body, code, body, tt.status, tt.contains)
		}
	}
	if len(f.created) != 1 || f.created[0] != "new/3/map[retention.ms:5]" {
		t.Errorf("created %v", f.created)
	}
	if len(f.deleted) != 1 {
		t.Errorf("deleted %v", f.deleted)
	}
}

func TestMessagesSeek(t *testing.T) {
	_, f, base := start(t, true)
	tests := []struct {
		query    string
		status   int
		readFrom int64
	}{
		{"", 200, 10},                        // earliest: the log start
		{"?offset=earliest", 200, 10},        //
		{"?offset=latest&limit=20", 200, 90}, // the last 20 below the high watermark
		{"?offset=latest&limit=500&partition=1", 200, 0},
		{"?offset=57", 200, 57},
		{"?timestamp=1700000000000", 200, 42},
		{"?offset=1&timestamp=2", 400, -1},
		{"?offset=abc", 400, -1},
		{"?limit=0", 400, -1},
		{"?limit=501", 400, -1},
		{"?partition=2", 404, -1},
		{"?partition=-1", 400, -1},
	}
	for _, tt := range tests {
		f.readFrom = -1
		code, body, _ := do(t, "GET", base+"/api/v1/topics/orders/messages"+tt.query, "", "")
		if code != tt.status || f.readFrom != tt.readFrom {
			t.Errorf("messages%s = %d (read from %d), want %d (read from %d): %s", tt.query, code, f.readFrom, tt.status, tt.readFrom, body)
		}
	}
	if f.timestamp != 1700000000000 {
		t.Errorf("timestamp seek used %d", f.timestamp)
	}
	if code, _, _ := do(t, "GET", base+"/api/v1/topics/missing/messages", "", ""); code != 404 {
		t.Errorf("messages of a missing topic = %d, want 404", code)
	}
}

func TestMessagesRendering(t *testing.T) {
	_, f, base := start(t, true)
	f.records = []admin.Record{{
		Partition: 0, Offset: 10, Timestamp: 1700000000000,
		Key: []byte("user-1"), Value: []byte(`{"id":1,"items":[2,3]}`),
		Headers: []record.RecordHeader{{Key: "trace", Value: []byte{0x00, 0xff}}, {Key: "empty", Value: nil}},
	}}
	code, body, _ := do(t, "GET", base+"/api/v1/topics/orders/messages", "", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got messagesBody
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	m := got.Messages[0]
	if m.Key != (payload{Encoding: "text", Data: "user-1", Size: 6}) {
		t.Errorf("key = %+v", m.Key)
	}
	if m.Value.Encoding != "json" || m.Value.Data != "{\n  \"id\": 1,\n  \"items\": [\n    2,\n    3\n  ]\n}" {
		t.Errorf("value = %+v", m.Value)
	}
	if m.Headers[0].Value != (payload{Encoding: "hex", Data: "00ff", Size: 2}) || m.Headers[1].Value.Encoding != "null" {
		t.Errorf("headers = %+v", m.Headers)
	}
	if m.Time != "2023-11-14T22:13:20Z" {
		t.Errorf("time = %s", m.Time)
	}
}

func TestPayload(t *testing.T) {
	big := strings.Repeat("a", shownBytesMax+10)
	tests := []struct {
		in        []byte
		encoding  string
		data      string
		truncated bool
	}{
		{nil, "null", "", false},
		{[]byte{}, "text", "", false},
		{[]byte("42"), "text", "42", false}, // a bare JSON number reads better as text
		{[]byte(`[1,2]`), "json", "[\n  1,\n  2\n]", false},
		{[]byte(`{"a":`), "text", `{"a":`, false},
		{[]byte("héllo\n\tworld"), "text", "héllo\n\tworld", false},
		{[]byte{0xde, 0xad, 0xbe, 0xef}, "hex", "deadbeef", false},
		{[]byte("a\x00b"), "hex", "610062", false},
		{[]byte(big), "text", big[:shownBytesMax], true},
	}
	for _, tt := range tests {
		p := newPayload(tt.in)
		if p.Encoding != tt.encoding || p.Data != tt.data || p.Truncated != tt.truncated {
			t.Errorf("newPayload(%.20q) = %s %.20q truncated=%v, want %s %.20q %v", tt.in, p.Encoding, p.Data, p.Truncated, tt.encoding, tt.data, tt.truncated)
		}
	}
}

func TestListenError(t *testing.T) {
	s := New(Config{Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler)})
	err := s.Listen([]string{"127.0.0.1:0", "256.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "http.listeners") {
		t.Fatalf("Listen of a bad address = %v, want an error naming http.listeners", err)
	}
	if len(s.Addrs()) != 0 {
		t.Errorf("a failed Listen left %v bound", s.Addrs())
	}
	s.Close()
}

func TestSamplerRates(t *testing.T) {
	m := metrics.New()
	s := newSampler(m)
	start := s.last
	m.Produced("orders", 100, 5000)
	m.Fetched("orders", 10000)
	s.take(start.Add(2 * time.Second))
	now, history := s.overall()
	if now != (rates{50, 2500, 5000}) || len(history) != 1 {
		t.Errorf("overall = %+v, %d samples", now, len(history))
	}
	if got := s.topics()["orders"]; got.messagesIn != 100 || got.MessagesInPerSec != 50 {
		t.Errorf("orders = %+v", got)
	}
	for i := range historyMax + 5 {
		s.take(start.Add(time.Duration(i+2) * 2 * time.Second))
	}
	if now, history := s.overall(); len(history) != historyMax || now != (rates{}) {
		t.Errorf("after idling: %+v, %d samples, want zero rates and %d samples", now, len(history), historyMax)
	}
}
