package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRecordTemplate(t *testing.T) {
	rec := &kgo.Record{
		Topic: "orders", Partition: 2, Offset: 17, Key: []byte("k1"), Value: []byte("hello"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("two")}},
	}
	for _, tc := range []struct{ format, want, err string }{
		{`%v\n`, "hello\n", ""},
		{`%t/%p@%o %k=%s (%K,%S) %T [%h]`, "orders/2@17 k1=hello (2,5) 1700000000123 [a=1,b=two]", ""},
		{`100%% \t\\\r`, "100% \t\\\r", ""},
		{`%q`, "", "unknown directive %q"},
		{`\x`, "", `unknown escape \x`},
		{`ends with %`, "", "lone '%'"},
	} {
		tmpl, err := parseRecordTemplate(tc.format)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseRecordTemplate(%q) error = %v, want %q", tc.format, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("parseRecordTemplate(%q): %v", tc.format, err)
		}
		if got := string(tmpl.appendRecord(nil, rec)); got != tc.want {
			t.Errorf("format %q = %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestRecordJSONKeepsBytes(t *testing.T) {
	r := newRecordJSON(&kgo.Record{Value: []byte{0xff, 0x00}, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("ok")}}})
	if r.Key != nil || r.Value == nil || *r.Value != "/wA=" || r.ValueEncoding != "base64" || r.Headers[0].Value != "ok" {
		t.Fatalf("newRecordJSON = %+v", r)
	}
}

func TestParseStartOffset(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want startOffset
		err  bool
	}{
		{"start", startOffset{kind: "start"}, false},
		{"beginning", startOffset{kind: "start"}, false},
		{"end", startOffset{kind: "end"}, false},
		{"42", startOffset{kind: "exact", value: 42}, false},
		{"-10", startOffset{kind: "relative", value: 10}, false},
		{"@1700000000000", startOffset{kind: "time", value: 1700000000000}, false},
		{"@yesterday", startOffset{}, true},
		{"soon", startOffset{}, true},
	} {
		got, err := parseStartOffset(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseStartOffset(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestScanLinesKeepCR(t *testing.T) {
	sc := bufio.NewScanner(strings.NewReader("a\r\n\nb\nlast"))
	sc.Split(scanLinesKeepCR)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if want := []string{"a\r", "", "b", "last"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

func TestKafkaReason(t *testing.T) {
	for _, tc := range []struct {
		err     error
		message string
		want    string
	}{
		{kerr.TopicAlreadyExists, "", "topic with this name already exists (TOPIC_ALREADY_EXISTS)"},
		{kerr.InvalidPartitions, `INVALID_PARTITIONS: Number of partitions is below 1.: topic "x" already has 5 partitions`,
			`topic "x" already has 5 partitions (INVALID_PARTITIONS)`},
		{fmt.Errorf("wrapped: %w", kerr.InvalidConfig), "Unknown topic config name: foo", "unknown topic config name: foo (INVALID_CONFIG)"},
		{errors.New("plain"), "", "plain"},
	} {
		if got := kafkaReason(tc.err, tc.message); got != tc.want {
			t.Errorf("kafkaReason(%v, %q) = %q, want %q", tc.err, tc.message, got, tc.want)
		}
	}
}

func TestParseAlters(t *testing.T) {
	alters, err := parseAlters([]string{"retention.ms=1"}, []string{"segment.ms"}, []string{"cleanup.policy=compact"}, nil)
	if err != nil || len(alters) != 3 {
		t.Fatalf("parseAlters = %+v, %v", alters, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=x"}} {
		if _, err := parseAlters(bad, nil, nil, nil); err == nil {
			t.Errorf("parseAlters(--set %q) accepted", bad)
		}
	}
	if _, err := parseAlters(nil, nil, nil, nil); err == nil {
		t.Error("parseAlters with no change accepted")
	}
}
