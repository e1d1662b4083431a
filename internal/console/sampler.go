package console

import (
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/metrics"
)

const (
	// sampleInterval is how often throughput is sampled, matching the
	// console's poll.
	sampleInterval = 2 * time.Second
	// historyMax is how many samples the overview sparkline keeps: three
	// minutes.
	historyMax = 90
)

// sample is the broker's throughput over one interval.
type sample struct {
	Time string `json:"time"` // RFC 3339, UTC
	rates
}

// rates are per-second rates over the last interval.
type rates struct {
	MessagesInPerSec float64 `json:"messagesInPerSec"`
	BytesInPerSec    float64 `json:"bytesInPerSec"`
	BytesOutPerSec   float64 `json:"bytesOutPerSec"`
}

// topicRates are a topic's total and rates.
type topicRates struct {
	messagesIn int64
	rates
}

// sampler turns the metrics' counters into rates for the console: the
// counters only ever grow, and a rate needs two readings.
type sampler struct {
	m    *metrics.Metrics
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu       sync.Mutex // guards the fields below
	last     time.Time
	lastSum  metrics.TopicTotals
	lastEach map[string]metrics.TopicTotals
	history  []sample // oldest first, at most historyMax
	byTopic  map[string]topicRates
}

func newSampler(m *metrics.Metrics) *sampler {
	s := &sampler{m: m, done: make(chan struct{}), byTopic: map[string]topicRates{}}
	s.take(time.Now())
	return s
}

func (s *sampler) start() {
	s.once.Do(func() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(sampleInterval)
			defer t.Stop()
			for {
				select {
				case <-s.done:
					return
				case now := <-t.C:
					s.take(now)
				}
			}
		}()
	})
}

func (s *sampler) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.wg.Wait()
}

// take reads the counters and records the rates since the last reading.
func (s *sampler) take(now time.Time) {
	sum, each := s.m.Totals()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastEach != nil {
		seconds := now.Sub(s.last).Seconds()
		s.history = append(s.history, sample{Time: now.UTC().Format(time.RFC3339), rates: rate(s.lastSum, sum, seconds)})
		if len(s.history) > historyMax {
			s.history = s.history[len(s.history)-historyMax:]
		}
		byTopic := make(map[string]topicRates, len(each))
		for name, t := range each {
			byTopic[name] = topicRates{messagesIn: t.MessagesIn, rates: rate(s.lastEach[name], t, seconds)}
		}
		s.byTopic = byTopic
	}
	s.last, s.lastSum, s.lastEach = now, sum, each
}

func rate(before, after metrics.TopicTotals, seconds float64) rates {
	if seconds <= 0 {
		return rates{}
	}
	per := func(a, b int64) float64 { return float64(max(b-a, 0)) / seconds }
	return rates{per(before.MessagesIn, after.MessagesIn), per(before.BytesIn, after.BytesIn), per(before.BytesOut, after.BytesOut)}
}

// overall returns the latest rates and the history, oldest first.
func (s *sampler) overall() (rates, []sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	history := append([]sample{}, s.history...)
	if len(history) == 0 {
		return rates{}, history
	}
	return history[len(history)-1].rates, history
}

// topics returns each topic's total and latest rates.
func (s *sampler) topics() map[string]topicRates {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byTopic // replaced, never modified, by take
}
