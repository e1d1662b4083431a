package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/admin"
)

const (
	// requestBodyBytesMax bounds a POST body.
	requestBodyBytesMax = 1 << 20
	// apiTimeout bounds the group coordinator calls of one API request.
	apiTimeout = 10 * time.Second
	// messagesDefault is how many records a browse returns without limit=.
	messagesDefault = 50
)

// Broker is what the API needs from the broker: *admin.Admin.
type Broker interface {
	NodeID() int32
	ClusterID() string
	Endpoint() string
	Topics() []admin.TopicInfo
	Topic(name string) (admin.TopicInfo, error)
	CreateTopic(name string, partitions int32, configs map[string]string) error
	DeleteTopic(name string) error
	OffsetForTimestamp(topic string, partition int32, timestamp int64) (int64, error)
	ReadRecords(topic string, partition int32, offset int64, limit int) (admin.Records, error)
	Groups(ctx context.Context) ([]admin.GroupSummary, error)
	Group(ctx context.Context, id string) (admin.GroupInfo, error)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`          // one sentence
	Code  string `json:"code,omitempty"` // Kafka's error name, when one applies
}

// brokerHandler is an API endpoint that needs the broker.
type brokerHandler func(w http.ResponseWriter, r *http.Request, b Broker)

func (s *Server) apiRoutes(mux *http.ServeMux) {
	routes := map[string]brokerHandler{
		"GET /api/v1/overview":               s.overview,
		"GET /api/v1/topics":                 s.listTopics,
		"POST /api/v1/topics":                s.createTopic,
		"GET /api/v1/topics/{name}":          s.getTopic,
		"DELETE /api/v1/topics/{name}":       s.deleteTopic,
		"GET /api/v1/topics/{name}/messages": s.messages,
		"GET /api/v1/groups":                 s.listGroups,
		"GET /api/v1/groups/{id}":            s.getGroup,
	}
	for pattern, fn := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			b := s.ready()
			if b == nil {
				writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "The broker is starting: partitions are being loaded."})
				return
			}
			fn(w, r, b)
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "No such API endpoint: " + r.Method + " " + r.URL.Path + "."})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers err with the HTTP status its Kafka error implies.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	body := apiError{Error: sentence(err.Error())}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		body.Code = ke.Message
		status = statusFor(ke)
	}
	writeJSON(w, status, body)
}

// statusFor maps a Kafka error to an HTTP status.
func statusFor(ke *kerr.Error) int {
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound:
		return http.StatusNotFound
	case kerr.TopicAlreadyExists:
		return http.StatusConflict
	case kerr.TopicDeletionDisabled, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed:
		return http.StatusForbidden
	case kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress, kerr.NotCoordinator:
		return http.StatusServiceUnavailable
	case kerr.KafkaStorageError, kerr.UnknownServerError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// sentence makes an error text one sentence: capitalised, ending in a
// full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	}
	if last := s[len(s)-1]; last != '.' && last != '!' && last != '?' {
		s += "."
	}
	return s
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, apiError{Error: msg})
}

// overviewBody is GET /api/v1/overview.
type overviewBody struct {
	Broker struct {
		NodeID    int32  `json:"nodeId"`
		ClusterID string `json:"clusterId"`
		Endpoint  string `json:"endpoint"`
	} `json:"broker"`
	Version       string `json:"version"`
	GoVersion     string `json:"goVersion"`
	StartedAt     string `json:"startedAt"`
	UptimeSeconds int64  `json:"uptimeSeconds"`
	Topics        int    `json:"topics"`
	Partitions    int    `json:"partitions"`
	// UnderReplicated and Offline count the partitions whose ISR is
	// smaller than their replicas, and those without a leader.
	UnderReplicated int      `json:"underReplicated"`
	Offline         int      `json:"offline"`
	SizeBytes       int64    `json:"sizeBytes"`
	Totals          totals   `json:"totals"`
	Rates           rates    `json:"rates"`
	History         []sample `json:"history"`
}

type totals struct {
	MessagesIn int64 `json:"messagesIn"`
	BytesIn    int64 `json:"bytesIn"`
	BytesOut   int64 `json:"bytesOut"`
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, b Broker) {
	var body overviewBody
	body.Broker.NodeID, body.Broker.ClusterID, body.Broker.Endpoint = b.NodeID(), b.ClusterID(), b.Endpoint()
	body.Version, body.GoVersion = s.cfg.Version, runtime.Version()
	body.StartedAt = s.started.UTC().Format(time.RFC3339)
	body.UptimeSeconds = int64(time.Since(s.started).Seconds())
	for _, t := range b.Topics() {
		body.Topics++
		body.Partitions += len(t.Partitions)
		body.UnderReplicated += t.UnderReplicated
		body.Offline += t.Offline
		for _, p := range t.Partitions {
			body.SizeBytes += p.SizeBytes
		}
	}
	sum, _ := s.cfg.Metrics.Totals()
	body.Totals = totals{sum.MessagesIn, sum.BytesIn, sum.BytesOut}
	body.Rates, body.History = s.sampler.overall()
	writeJSON(w, http.StatusOK, body)
}

// topicSummary is one topic in GET /api/v1/topics.
type topicSummary struct {
	admin.TopicInfo
	SizeBytes        int64   `json:"sizeBytes"`
	Messages         int64   `json:"messages"` // high watermark minus log start, summed
	MessagesIn       int64   `json:"messagesIn"`
	MessagesInPerSec float64 `json:"messagesInPerSec"`
	BytesInPerSec    float64 `json:"bytesInPerSec"`
	BytesOutPerSec   float64 `json:"bytesOutPerSec"`
}

func (s *Server) summarize(t admin.TopicInfo, counters map[string]topicRates) topicSummary {
	ts := topicSummary{TopicInfo: t}
	for _, p := range t.Partitions {
		ts.SizeBytes += p.SizeBytes
		if p.HighWatermark > p.LogStartOffset {
			ts.Messages += p.HighWatermark - p.LogStartOffset
		}
	}
	c := counters[t.Name]
	ts.MessagesIn, ts.MessagesInPerSec, ts.BytesInPerSec, ts.BytesOutPerSec = c.messagesIn, c.MessagesInPerSec, c.BytesInPerSec, c.BytesOutPerSec
	return ts
}

func (s *Server) listTopics(w http.ResponseWriter, r *http.Request, b Broker) {
	counters := s.sampler.topics()
	out := []topicSummary{}
	for _, t := range b.Topics() {
		out = append(out, s.summarize(t, counters))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTopic(w http.ResponseWriter, r *http.Request, b Broker) {
	t, err := b.Topic(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.summarize(t, s.sampler.topics()))
}

// createTopicBody is POST /api/v1/topics.
type createTopicBody struct {
	Name       string            `json:"name"`
	Partitions *int32            `json:"partitions"` // num.partitions when absent
	Configs    map[string]string `json:"configs"`
}

func (s *Server) createTopic(w http.ResponseWriter, r *http.Request, b Broker) {
	// Requiring a JSON body makes a cross-site form post (which cannot
	// set this content type without a CORS preflight we never grant)
	// unable to create topics.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "Send the topic as JSON with Content-Type: application/json."})
		return
	}
	var body createTopicBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, requestBodyBytesMax))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		badRequest(w, sentence("the body is not a topic in JSON: "+err.Error()))
		return
	}
	partitions := int32(-1)
	if body.Partitions != nil {
		partitions = *body.Partitions
	}
	if err := b.CreateTopic(body.Name, partitions, body.Configs); err != nil {
		writeError(w, err)
		return
	}
	t, err := b.Topic(body.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/topics/"+body.Name)
	writeJSON(w, http.StatusCreated, s.summarize(t, nil))
}

func (s *Server) deleteTopic(w http.ResponseWriter, r *http.Request, b Broker) {
	if err := b.DeleteTopic(r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, b Broker) {
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	groups, err := b.Groups(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, groups)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, b Broker) {
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	g, err := b.Group(ctx, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// messagesBody is GET /api/v1/topics/{name}/messages.
type messagesBody struct {
	Topic          string    `json:"topic"`
	Partition      int32     `json:"partition"`
	LogStartOffset int64     `json:"logStartOffset"`
	HighWatermark  int64     `json:"highWatermark"`
	NextOffset     int64     `json:"nextOffset"`
	Messages       []message `json:"messages"`
}

// messages browses a partition: from offset= (a number, "earliest" or
// "latest", which shows the last limit records), or from the first
// record at or after timestamp= (unix ms).
func (s *Server) messages(w http.ResponseWriter, r *http.Request, b Broker) {
	topic, q := r.PathValue("name"), r.URL.Query()
	partition, err := intParam(q.Get("partition"), 0, 0, 1<<31-1)
	if err != nil {
		badRequest(w, "partition= must be a partition number.")
		return
	}
	limit, err := intParam(q.Get("limit"), messagesDefault, 1, admin.AdminRecordsMax)
	if err != nil {
		badRequest(w, "limit= must be a number from 1 to "+strconv.Itoa(admin.AdminRecordsMax)+".")
		return
	}
	t, err := b.Topic(topic)
	if err != nil {
		writeError(w, err)
		return
	}
	if partition >= int64(len(t.Partitions)) {
		writeError(w, fmt.Errorf("%w: topic %s has no partition %d", kerr.UnknownTopicOrPartition, topic, partition))
		return
	}
	offset, err := startOffset(b, t.Partitions[partition], topic, q.Get("offset"), q.Get("timestamp"), limit)
	if err != nil {
		if errors.Is(err, errBadSeek) {
			badRequest(w, err.Error())
		} else {
			writeError(w, err)
		}
		return
	}
	recs, err := b.ReadRecords(topic, int32(partition), offset, int(limit))
	if err != nil {
		writeError(w, err)
		return
	}
	body := messagesBody{Topic: topic, Partition: int32(partition), LogStartOffset: recs.LogStartOffset,
		HighWatermark: recs.HighWatermark, NextOffset: recs.NextOffset, Messages: []message{}}
	for _, rec := range recs.Records {
		body.Messages = append(body.Messages, newMessage(rec))
	}
	writeJSON(w, http.StatusOK, body)
}

var errBadSeek = errors.New("Offset= must be a number, earliest or latest, and timestamp= unix milliseconds; give at most one.")

// startOffset resolves the seek parameters of a browse of partition p.
func startOffset(b Broker, p admin.PartitionInfo, topic, offset, timestamp string, limit int64) (int64, error) {
	switch {
	case offset != "" && timestamp != "":
		return 0, errBadSeek
	case timestamp != "":
		ts, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil || ts < 0 {
			return 0, errBadSeek
		}
		return b.OffsetForTimestamp(topic, p.Partition, ts)
	case offset == "" || offset == "earliest":
		return p.LogStartOffset, nil
	case offset == "latest":
		return max(p.HighWatermark-limit, p.LogStartOffset), nil
	}
	n, err := strconv.ParseInt(offset, 10, 64)
	if err != nil || n < 0 {
		return 0, errBadSeek
	}
	return n, nil
}

// intParam parses an optional integer query parameter within bounds.
func intParam(v string, def, lo, hi int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("out of range")
	}
	return n, nil
}

var _ Broker = (*admin.Admin)(nil)
