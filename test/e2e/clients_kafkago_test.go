package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// TestKafkaGoProduceConsume drives segmentio/kafka-go, which negotiates
// with ApiVersions v0, through a writer and a partition reader, with each
// codec it supports.
func TestKafkaGoProduceConsume(t *testing.T) {
	b := StartBroker(t)
	codecs := []struct {
		name  string
		codec compress.Compression
	}{
		{"none", 0}, {"gzip", compress.Gzip}, {"snappy", compress.Snappy}, {"lz4", compress.Lz4}, {"zstd", compress.Zstd},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "kafka-go-" + c.name
			ctx := testContext(t, time.Minute)
			conn, err := kafkago.DialLeader(ctx, "tcp", b.Addr, topic, 0)
			if err != nil {
				t.Fatalf("dial leader (auto-creates the topic): %v", err)
			}
			conn.Close()
			w := &kafkago.Writer{
				Addr: kafkago.TCP(b.Addr), Topic: topic, Balancer: &kafkago.LeastBytes{},
				RequiredAcks: kafkago.RequireAll, Compression: c.codec, BatchTimeout: time.Millisecond,
				// A transport of its own: the shared default caches the
				// topic list from before this topic existed.
				Transport: &kafkago.Transport{},
			}
			const n = 500
			var msgs []kafkago.Message
			for i := range n {
				msgs = append(msgs, kafkago.Message{
					Key:     []byte(fmt.Sprintf("k%d", i)),
					Value:   bytes.Repeat([]byte{byte(i)}, 10+i%90),
					Headers: []kafkago.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}},
				})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("write: %v", err)
			}
			w.Close()

			r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.Addr}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for i := range n {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if m.Offset != int64(i) || !bytes.Equal(m.Key, msgs[i].Key) || !bytes.Equal(m.Value, msgs[i].Value) ||
					len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprint(i) {
					t.Fatalf("message %d differs: offset %d key %q", i, m.Offset, m.Key)
				}
			}
		})
	}
}
