package handler

import (
	"time"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/topics"
)

// partitionsMax bounds partitions per topic.
const partitionsMax = topics.PartitionsMax

// settings returns the resolved configs of t.
func (h *Handler) settings(t *metadata.Topic) *topics.Settings { return h.b.Topics.Settings(t) }

// namedTwice returns the names that appear more than once in a request:
// Kafka answers each of those entries INVALID_REQUEST.
func namedTwice[T any](items []T, name func(T) string) map[string]bool {
	count := make(map[string]int, len(items))
	for _, it := range items {
		count[name(it)]++
	}
	twice := map[string]bool{}
	for n, c := range count {
		if c > 1 {
			twice[n] = true
		}
	}
	return twice
}

// nowMs is the broker's wall clock.
func nowMs() int64 { return time.Now().UnixMilli() }
