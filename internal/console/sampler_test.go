package console

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluice-dev/sluice/internal/metrics"
)

// TestSamplerTicks: once started, the sampler takes a sample every
// sampleInterval and no more, and stop ends its goroutine. It runs in a
// synctest bubble, so the intervals pass on the bubble's clock.
func TestSamplerTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := metrics.New()
		s := newSampler(m)
		s.start()
		defer s.stop()
		samples := func() int {
			_, history := s.overall()
			return len(history)
		}
		time.Sleep(sampleInterval - time.Millisecond)
		synctest.Wait()
		if n := samples(); n != 0 {
			t.Fatalf("%d samples before the first interval ended", n)
		}
		m.Produced("orders", 30, 600)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if now, _ := s.overall(); samples() != 1 || now.MessagesInPerSec != 15 {
			t.Fatalf("after one interval: %d samples, rates %+v; want one sample of 15 messages/s", samples(), now)
		}
		time.Sleep(3 * sampleInterval)
		synctest.Wait()
		if n := samples(); n != 4 {
			t.Fatalf("after four intervals: %d samples", n)
		}
		s.stop()
		time.Sleep(2 * sampleInterval)
		synctest.Wait()
		if n := samples(); n != 4 {
			t.Fatalf("stopped sampler took more samples: %d", n)
		}
	})
}
