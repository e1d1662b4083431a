package e2e

// Tests of the broker's HTTP listener: Prometheus metrics after real
// traffic, /healthz and /readyz, the JSON admin API, and the web console
// in Debian's headless chromium.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startHTTPBroker starts a broker with its HTTP listener on a free port
// and returns it with the listener's base URL.
func startHTTPBroker(t *testing.T) (*Broker, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := StartBroker(t, append([]string{"KAFKA_HTTP_LISTENERS=" + addr, "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false"}, groupEnv...)...)
	return b, "http://" + addr
}

// httpDo sends a request and returns the status and body.
func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// httpJSON GETs url, expects 200 and decodes the body into v.
func httpJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, body := httpDo(t, "GET", url, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", url, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// scrape reads /metrics into "name{labels}" -> value, labels as the
// exposition prints them (sorted by name).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	code, body := httpDo(t, "GET", base+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d: %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sumMetric adds up every sample of name whose labels contain all of
// the given label="value" pairs.
func sumMetric(samples map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for k, v := range samples {
		if !strings.HasPrefix(k, name+"{") && k != name {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(k, l)
		}
		if match {
			sum += v
		}
	}
	return sum
}

// httpRecords are what the HTTP tests produce: JSON values, a binary
// value, headers and timestamps one second apart from a fixed base.
func httpRecords(topic string, partition int32, n int) []*kgo.Record {
	base := time.UnixMilli(1_750_000_000_000)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		value := []byte(fmt.Sprintf(`{"order":%d,"partition":%d,"items":["tea","cups"],"paid":true}`, i, partition))
		if i == 3 {
			value = []byte{0x00, 0x01, 0xfe, 0xff}
		}
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Key: []byte(fmt.Sprintf("customer-%d", i%7)), Value: value,
			Headers:   []kgo.RecordHeader{{Key: "source", Value: []byte("web")}, {Key: "trace", Value: []byte{0xca, 0xfe}}},
			Timestamp: base.Add(time.Duration(i) * time.Second)}
	}
	return recs
}

func produceTo(t *testing.T, addr string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceAll(t, cl, recs)
}

func TestHTTPHealthAndMetrics(t *testing.T) {
	b, base := startHTTPBroker(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := httpDo(t, "GET", base+path, ""); code != 200 {
			t.Fatalf("%s = %d %s, want 200 once the broker is listening", path, code, body)
		}
	}
	if !strings.Contains(b.Output(), "http listening") {
		t.Errorf("the bound HTTP address is not logged:\n%s", b.Output())
	}

	const topic, group = "http-metrics", "http-metrics-group"
	if code, body := httpDo(t, "POST", base+"/api/v1/topics", `{"name":"`+topic+`","partitions":2}`); code != http.StatusCreated {
		t.Fatalf("create topic = %d %s", code, body)
	}
	before := scrape(t, base)
	produceTo(t, b.Addr, append(httpRecords(topic, 0, 30), httpRecords(topic, 1, 20)...))
	consumeN(t, b.Addr, topic, 50)

	adm := kadm.NewClient(kgoClient(t, b.Addr))
	ctx := testContext(t, time.Minute)
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 25, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: topic, Partition: 1, At: 20, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}

	m := scrape(t, base)
	onTopic := `topic="` + topic + `"`
	if got := m[`kafka_server_brokertopicmetrics_messagesin_total{`+onTopic+`}`]; got != 50 {
		t.Errorf("messagesin_total = %v, want 50", got)
	}
	bytesIn := m[`kafka_server_brokertopicmetrics_bytesin_total{`+onTopic+`}`]
	logSize := sumMetric(m, "kafka_log_log_size", onTopic)
	if bytesIn == 0 || bytesIn != logSize {
		t.Errorf("bytesin_total = %v, want the %v bytes the batches take on disk", bytesIn, logSize)
	}
	if out := m[`kafka_server_brokertopicmetrics_bytesout_total{`+onTopic+`}`]; out < bytesIn {
		t.Errorf("bytesout_total = %v after consuming every record, want at least %v", out, bytesIn)
	}
	lag := func(p int) float64 {
		return m[fmt.Sprintf(`kafka_consumergroup_lag{consumergroup="%s",partition="%d",%s}`, group, p, onTopic)]
	}
	if lag(0) != 5 || lag(1) != 0 {
		t.Errorf("kafka_consumergroup_lag = %v, %v, want 5 and 0", lag(0), lag(1))
	}
	if got := m[`kafka_consumergroup_lag_sum{consumergroup="`+group+`",`+onTopic+`}`]; got != 5 {
		t.Errorf("kafka_consumergroup_lag_sum = %v, want 5", got)
	}
	if got := m[`kafka_log_log_logendoffset{partition="0",`+onTopic+`}`]; got != 30 {
		t.Errorf("logendoffset of partition 0 = %v, want 30", got)
	}
	if got := m["kafka_server_replicamanager_partitioncount"]; got < 2 {
		t.Errorf("partitioncount = %v, want at least the topic's 2", got)
	}
	produced := m[`kafka_network_requestmetrics_requests_total{request="Produce"}`] - before[`kafka_network_requestmetrics_requests_total{request="Produce"}`]
	if produced < 1 || m[`kafka_network_requestmetrics_totaltime_seconds_count{request="Produce"}`] != m[`kafka_network_requestmetrics_requests_total{request="Produce"}`] {
		t.Errorf("Produce requests = %v, histogram count = %v", produced, m[`kafka_network_requestmetrics_totaltime_seconds_count{request="Produce"}`])
	}
	if m[`kafka_network_requestmetrics_totaltime_seconds_bucket{request="Fetch",le="+Inf"}`] < 1 {
		t.Error("no Fetch latency histogram")
	}
	if m["go_goroutines"] == 0 || m["process_resident_memory_bytes"] == 0 {
		t.Error("Go runtime and process metrics are missing")
	}

	// A deleted topic's series go, as Kafka removes its metrics.
	if code, body := httpDo(t, "DELETE", base+"/api/v1/topics/"+topic, ""); code != http.StatusNoContent {
		t.Fatalf("delete topic = %d %s", code, body)
	}
	for k := range scrape(t, base) {
		if strings.Contains(k, onTopic) {
			t.Errorf("%s is still exported after the topic was deleted", k)
		}
	}
}

func kgoClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// apiMessages is the part of a messages answer the tests check.
type apiMessages struct {
	HighWatermark int64 `json:"highWatermark"`
	NextOffset    int64 `json:"nextOffset"`
	Messages      []struct {
		Offset    int64 `json:"offset"`
		Timestamp int64 `json:"timestamp"`
		Key       struct{ Encoding, Data string }
		Value     struct{ Encoding, Data string }
		Headers   []struct {
			Key   string
			Value struct{ Encoding, Data string }
		}
	} `json:"messages"`
}

func TestHTTPAdminAPI(t *testing.T) {
	b, base := startHTTPBroker(t)
	const topic = "http-api"

	code, body := httpDo(t, "POST", base+"/api/v1/topics", `{"name":"`+topic+`","partitions":3,"configs":{"retention.ms":"3600000"}}`)
	if code != http.StatusCreated || !strings.Contains(body, `"partition": 2`) {
		t.Fatalf("create = %d %s", code, body)
	}
	if code, body := httpDo(t, "POST", base+"/api/v1/topics", `{"name":"`+topic+`"}`); code != http.StatusConflict || !strings.Contains(body, "TOPIC_ALREADY_EXISTS") {
		t.Errorf("create again = %d %s, want 409", code, body)
	}
	if code, body := httpDo(t, "POST", base+"/api/v1/topics", `{"name":"bad name!"}`); code != http.StatusBadRequest {
		t.Errorf("create with a bad name = %d %s, want 400", code, body)
	}
	if code, body := httpDo(t, "POST", base+"/api/v1/topics", `{"name":"x","configs":{"retention.ms":"soon"}}`); code != http.StatusBadRequest || !strings.Contains(body, "INVALID_CONFIG") {
		t.Errorf("create with a bad config = %d %s, want 400 INVALID_CONFIG", code, body)
	}

	var topics []struct {
		Name       string
		Partitions []struct{ Partition int32 }
	}
	httpJSON(t, base+"/api/v1/topics", &topics)
	if len(topics) != 1 || topics[0].Name != topic || len(topics[0].Partitions) != 3 {
		t.Errorf("topics = %+v", topics)
	}

	produceTo(t, b.Addr, httpRecords(topic, 1, 40))

	var desc struct {
		Name       string
		Messages   int64
		SizeBytes  int64
		Partitions []struct {
			Partition                     int32
			LogStartOffset, HighWatermark int64
			SizeBytes                     int64
		}
		Configs []struct{ Name, Value, Source string }
	}
	httpJSON(t, base+"/api/v1/topics/"+topic, &desc)
	if desc.Messages != 40 || desc.Partitions[1].HighWatermark != 40 || desc.Partitions[1].SizeBytes == 0 || desc.Partitions[0].HighWatermark != 0 {
		t.Errorf("describe = %+v", desc)
	}
	foundRetention := false
	for _, c := range desc.Configs {
		if c.Name == "retention.ms" {
			foundRetention = c.Value == "3600000" && c.Source == "DYNAMIC_TOPIC_CONFIG"
		}
	}
	if !foundRetention {
		t.Errorf("configs lack the retention.ms override: %+v", desc.Configs)
	}

	// Browse by offset: JSON pretty-printed, binary as hex, headers.
	var page apiMessages
	httpJSON(t, base+"/api/v1/topics/"+topic+"/messages?partition=1&offset=2&limit=3", &page)
	if len(page.Messages) != 3 || page.Messages[0].Offset != 2 || page.NextOffset != 5 || page.HighWatermark != 40 {
		t.Fatalf("page = %+v", page)
	}
	if v := page.Messages[0].Value; v.Encoding != "json" || !strings.Contains(v.Data, "\n  \"order\": 2,") {
		t.Errorf("JSON value = %+v, want it pretty-printed", v)
	}
	if v := page.Messages[1].Value; v.Encoding != "hex" || v.Data != "0001feff" {
		t.Errorf("binary value = %+v, want hex", v)
	}
	if k := page.Messages[0].Key; k.Encoding != "text" || k.Data != "customer-2" {
		t.Errorf("key = %+v", k)
	}
	if h := page.Messages[0].Headers; len(h) != 2 || h[0].Key != "source" || h[0].Value.Data != "web" || h[1].Value.Data != "cafe" {
		t.Errorf("headers = %+v", h)
	}

	// Browse by timestamp: records are a second apart.
	ts := time.UnixMilli(1_750_000_000_000).Add(17*time.Second - time.Millisecond).UnixMilli()
	httpJSON(t, base+"/api/v1/topics/"+topic+"/messages?partition=1&limit=1&timestamp="+strconv.FormatInt(ts, 10), &page)
	if len(page.Messages) != 1 || page.Messages[0].Offset != 17 {
		t.Errorf("timestamp seek = %+v, want offset 17", page.Messages)
	}
	httpJSON(t, base+"/api/v1/topics/"+topic+"/messages?partition=1&offset=latest&limit=5", &page)
	if len(page.Messages) != 5 || page.Messages[0].Offset != 35 {
		t.Errorf("latest = %d messages from %d, want 5 from 35", len(page.Messages), page.Messages[0].Offset)
	}
	if code, _ := httpDo(t, "GET", base+"/api/v1/topics/"+topic+"/messages?partition=9", ""); code != http.StatusNotFound {
		t.Errorf("browse of a missing partition = %d, want 404", code)
	}

	// Groups: a live consumer that committed part of the partition.
	group := "http-api-group"
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ClientID("http-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, time.Minute)
	for n := 0; n < 40; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += len(fs.Records())
	}
	if err := commitSync(ctx, cl, map[string]map[int32]kgo.EpochOffset{topic: {1: {Epoch: -1, Offset: 30}}}); err != nil {
		t.Fatal(err)
	}
	var groups []struct {
		Group, State string
		Members      int
		TotalLag     int64
	}
	httpJSON(t, base+"/api/v1/groups", &groups)
	if len(groups) != 1 || groups[0].Group != group || groups[0].State != "Stable" || groups[0].Members != 1 || groups[0].TotalLag != 10 {
		t.Errorf("groups = %+v", groups)
	}
	var g struct {
		State   string
		Members []struct {
			ClientID    string
			Assignments map[string][]int32
		}
		Offsets []struct {
			Topic                       string
			Partition                   int32
			CurrentOffset, LogEndOffset int64
			Lag                         int64
			ClientID                    string
		}
	}
	httpJSON(t, base+"/api/v1/groups/"+group, &g)
	if len(g.Members) != 1 || g.Members[0].ClientID != "http-test" || len(g.Members[0].Assignments[topic]) != 3 {
		t.Errorf("members = %+v", g.Members)
	}
	lagOf := map[int32]int64{}
	for _, o := range g.Offsets {
		lagOf[o.Partition] = o.Lag
	}
	if len(g.Offsets) != 3 || lagOf[1] != 10 || lagOf[0] != -1 {
		t.Errorf("offsets = %+v, want partition 1 at lag 10 and the uncommitted ones at -1", g.Offsets)
	}
	if code, _ := httpDo(t, "GET", base+"/api/v1/groups/nobody", ""); code != http.StatusNotFound {
		t.Errorf("missing group = %d, want 404", code)
	}

	var overview struct {
		Topics, Partitions int
		Totals             struct{ MessagesIn int64 }
	}
	httpJSON(t, base+"/api/v1/overview", &overview)
	if overview.Totals.MessagesIn != 40 || overview.Partitions < 3 {
		t.Errorf("overview = %+v", overview)
	}

	if code, body := httpDo(t, "GET", base+"/", ""); code != 200 || !strings.Contains(body, "Sluice console") {
		t.Errorf("console index = %d %.200s", code, body)
	}

	cl.Close()
	if code, body := httpDo(t, "DELETE", base+"/api/v1/topics/"+topic, ""); code != http.StatusNoContent {
		t.Fatalf("delete = %d %s", code, body)
	}
	if code, _ := httpDo(t, "GET", base+"/api/v1/topics/"+topic, ""); code != http.StatusNotFound {
		t.Errorf("a deleted topic = %d, want 404", code)
	}
	if code, _ := httpDo(t, "DELETE", base+"/api/v1/topics/"+topic, ""); code != http.StatusNotFound {
		t.Errorf("deleting a missing topic = %d, want 404", code)
	}
}

// TestHTTPConsoleBrowser opens each console page in headless chromium
// against a broker with data, checks the rendered page and saves a
// screenshot of it in $SLUICE_ARTIFACTS/console (default
// $TMPDIR/sluice-artifacts/console).
func TestHTTPConsoleBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	b, base := startHTTPBroker(t)
	const topic, group = "orders", "billing"
	httpDo(t, "POST", base+"/api/v1/topics", `{"name":"`+topic+`","partitions":3,"configs":{"retention.ms":"604800000"}}`)
	httpDo(t, "POST", base+"/api/v1/topics", `{"name":"audit-log","partitions":1}`)
	produceTo(t, b.Addr, append(append(httpRecords(topic, 0, 25), httpRecords(topic, 1, 18)...), httpRecords("audit-log", 0, 7)...))

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ClientID("billing-service"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, time.Minute)
	for n := 0; n < 43; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += len(fs.Records())
	}
	if err := commitSync(ctx, cl, map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: 20}, 1: {Epoch: -1, Offset: 18}}}); err != nil {
		t.Fatal(err)
	}
	go func() { // stay in the group while the pages are taken
		for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
		}
	}()

	dir := os.Getenv("SLUICE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sluice-artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		name, hash string
		want       []string
	}{
		{"overview", "#/overview", []string{"Node 1", b.Addr, "since start"}},
		{"topics", "#/topics", []string{"orders", "audit-log", "43", "in sync"}},
		{"topic", "#/topics/orders", []string{"retention.ms", "604800000", "DYNAMIC_TOPIC_CONFIG", "in sync"}},
		{"messages", "#/messages/orders/0", []string{"customer-1", `"order": 1,`, "0001feff", "source: </b>web"}},
		{"groups", "#/groups", []string{"billing", "Stable", ">5<"}},
		{"group", "#/groups/billing", []string{"billing-service", ">20<", ">25<", ">5<"}},
	}
	for _, p := range pages {
		url := base + "/" + p.hash
		dom := runChromium(t, chromium, "--dump-dom", url)
		for _, w := range p.want {
			if !strings.Contains(dom, w) {
				t.Errorf("%s page lacks %q:\n%s", p.name, w, clip(dom))
			}
		}
		shot := filepath.Join(dir, p.name+".png")
		runChromium(t, chromium, "--screenshot="+shot, "--window-size=1400,900", url)
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			t.Errorf("no screenshot of the %s page: %v", p.name, err)
		}
	}
	t.Logf("console screenshots are in %s", dir)
}

// runChromium runs headless chromium on url, giving the page five
// seconds of virtual time to fetch and render its data.
func runChromium(t *testing.T, chromium string, args ...string) string {
	t.Helper()
	profile := t.TempDir()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
		"--virtual-time-budget=5000"}, args...)
	ctx := testContext(t, time.Minute)
	out, err := exec.CommandContext(ctx, chromium, all...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// commitSync commits offsets with a group client and returns the first
// error, of the request or of any partition.
func commitSync(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var first error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			first = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && first == nil {
					first = err
				}
			}
		}
	})
	return first
}
