package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// faultHistory is a synthetic history for the checker: acknowledgements,
// then reads per source; sources named in final are full reads at the end.
type faultHistory struct {
	acks  []faultEvent
	reads []faultEvent
	final []string
}

type faultEvent struct {
	source, value string
	partition     int32
	offset        int64
}

func (h faultHistory) run() faultReport {
	c := newFaultChecker()
	for _, e := range h.acks {
		c.Acked(e.value, faultPos{e.partition, e.offset})
	}
	for _, s := range h.final {
		c.Final(s)
	}
	for _, e := range h.reads {
		c.Read(e.source, e.value, faultPos{e.partition, e.offset})
	}
	return c.Report()
}

func ack(value string, p int32, o int64) faultEvent { return faultEvent{"", value, p, o} }
func read(source, value string, p int32, o int64) faultEvent {
	return faultEvent{source, value, p, o}
}

// TestFaultCheckerDetects feeds the checker one history per anomaly and
// checks each count: a clean history reports nothing, and every anomaly
// the fault suite claims to catch is caught.
func TestFaultCheckerDetects(t *testing.T) {
	clean := faultHistory{
		acks:  []faultEvent{ack("a", 0, 0), ack("b", 0, 1), ack("c", 1, 0)},
		reads: []faultEvent{read("group", "a", 0, 0), read("group", "b", 0, 1), read("final", "a", 0, 0), read("final", "b", 0, 1), read("final", "c", 1, 0)},
		final: []string{"final"},
	}
	type counts struct{ lost, dup, moved, inconsistent, unacked int }
	tests := []struct {
		name string
		h    faultHistory
		want counts
		// example is a piece of the report the anomaly must show.
		example string
	}{
		{"clean", clean, counts{}, "acknowledged 3"},
		{"lost at the end although consumed during the run", faultHistory{
			acks:  clean.acks,
			reads: []faultEvent{read("group", "c", 1, 0), read("final", "a", 0, 0), read("final", "b", 0, 1)},
			final: []string{"final"},
		}, counts{lost: 1}, "c acknowledged at 1/0, missing from [final]"},
		{"lost on one replica's copy only", faultHistory{
			acks: clean.acks,
			reads: append(clean.reads[2:],
				read("disk-5", "a", 0, 0), read("disk-5", "b", 0, 1), read("disk-5", "c", 1, 0),
				read("disk-6", "a", 0, 0), read("disk-6", "c", 1, 0)),
			final: []string{"final", "disk-5", "disk-6"},
		}, counts{lost: 1}, "b acknowledged at 0/1, missing from [disk-6]"},
		{"a final source that read nothing loses everything", faultHistory{
			acks: clean.acks, reads: clean.reads, final: []string{"final", "disk-4"},
		}, counts{lost: 3}, "missing from [disk-4]"},
		{"duplicated: one value at two offsets", faultHistory{
			acks:  clean.acks,
			reads: append(clean.reads, read("final", "a", 0, 2)),
			final: []string{"final"},
		}, counts{dup: 1, moved: 1}, "a at 0/0 [ack final group], 0/2 [final]"},
		{"duplicated: acknowledged twice at two offsets", faultHistory{
			acks:  append(clean.acks, ack("a", 0, 2)),
			reads: clean.reads,
			final: []string{"final"},
		}, counts{dup: 1}, "a at 0/0 [ack final group], 0/2 [ack]"},
		{"moved: read at another offset than acknowledged", faultHistory{
			acks:  clean.acks,
			reads: []faultEvent{read("final", "a", 0, 0), read("final", "b", 0, 1), read("final", "c", 1, 1)},
			final: []string{"final"},
		}, counts{moved: 1}, "c acknowledged at 1/0, read at [1/1]"},
		{"inconsistent: one offset, two values across sources", faultHistory{
			acks:  clean.acks,
			reads: append(clean.reads, read("disk-5", "a", 0, 0), read("disk-5", "x", 0, 1)),
			final: []string{"final"},
		}, counts{inconsistent: 1, unacked: 1}, "0/1 holds b by [ack final group] and x by [disk-5]"},
		{"inconsistent: one source reads two values at one offset", faultHistory{
			acks:  clean.acks,
			reads: append(clean.reads, read("group", "y", 0, 0)),
			final: []string{"final"},
		}, counts{inconsistent: 1, unacked: 1}, "0/0 holds a by [ack final group] and y by [group]"},
		{"inconsistent: acknowledged offset later holds another value", faultHistory{
			// Jepsen's Kafka 2013: b acknowledged, lost, its offset reused.
			acks:  clean.acks,
			reads: []faultEvent{read("final", "a", 0, 0), read("final", "z", 0, 1), read("final", "c", 1, 0)},
			final: []string{"final"},
		}, counts{lost: 1, inconsistent: 1, unacked: 1}, "0/1 holds b by [ack] and z by [final]"},
		{"unacknowledged but present is allowed", faultHistory{
			acks:  clean.acks,
			reads: append(clean.reads, read("final", "u", 1, 1)),
			final: []string{"final"},
		}, counts{unacked: 1}, "unacknowledged but present 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.h.run()
			got := counts{r.Lost.Count, r.Duplicated.Count, r.Moved.Count, r.Inconsistent.Count, r.UnackedPresent}
			if got != tt.want {
				t.Errorf("counts %+v, want %+v\n%s", got, tt.want, r)
			}
			if !strings.Contains(r.String(), tt.example) {
				t.Errorf("report does not show %q:\n%s", tt.example, r)
			}
			wantOK := tt.want.lost+tt.want.dup+tt.want.moved+tt.want.inconsistent == 0
			if r.OK() != wantOK {
				t.Errorf("OK() = %v, want %v:\n%s", r.OK(), wantOK, r)
			}
		})
	}
}

// TestFaultCheckerLostBySource counts losses per final source.
func TestFaultCheckerLostBySource(t *testing.T) {
	r := faultHistory{
		acks:  []faultEvent{ack("a", 0, 0), ack("b", 0, 1)},
		reads: []faultEvent{read("final", "a", 0, 0), read("final", "b", 0, 1), read("disk-4", "a", 0, 0)},
		final: []string{"final", "disk-4", "disk-5"},
	}.run()
	want := map[string]int{"final": 0, "disk-4": 1, "disk-5": 2}
	if fmt.Sprint(r.LostBySource) != fmt.Sprint(want) || r.Lost.Count != 2 {
		t.Fatalf("lost %d by source %v, want 2 by source %v", r.Lost.Count, r.LostBySource, want)
	}
}

// TestFaultCheckerExamplesBounded keeps counts exact and examples few.
func TestFaultCheckerExamplesBounded(t *testing.T) {
	c := newFaultChecker()
	c.Final("final")
	const n = 1000
	for i := range n {
		c.Acked(fmt.Sprintf("v%04d", i), faultPos{0, int64(i)})
	}
	r := c.Report()
	if r.Lost.Count != n || len(r.Lost.Examples) != faultExamplesMax {
		t.Fatalf("lost %d with %d examples, want %d with %d", r.Lost.Count, len(r.Lost.Examples), n, faultExamplesMax)
	}
}

// TestFaultCheckerConcurrent feeds the checker from several goroutines,
// as producers' callbacks and consumers do (run with -race).
func TestFaultCheckerConcurrent(t *testing.T) {
	c := newFaultChecker()
	c.Final("final")
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				v := fmt.Sprintf("w%d-%d", w, i)
				pos := faultPos{int32(w), int64(i)}
				c.Acked(v, pos)
				c.Read("group", v, pos)
				c.Read("final", v, pos)
			}
		})
	}
	wg.Wait()
	if r := c.Report(); !r.OK() || r.Acknowledged != writers*each || r.UnackedPresent != 0 {
		t.Fatalf("concurrent clean history: %s", r)
	}
}

// TestFaultCheckerUnplaced: a value acknowledged without an offset is lost
// when a final source lacks it and duplicated when read at two offsets,
// wherever it is read, and never counted as unacknowledged.
func TestFaultCheckerUnplaced(t *testing.T) {
	c := newFaultChecker()
	c.AckedUnplaced("a")
	c.AckedUnplaced("b")
	c.AckedUnplaced("c")
	c.Final("final")
	c.Read("final", "a", faultPos{0, 7})
	c.Read("final", "b", faultPos{0, 8})
	c.Read("final", "b", faultPos{0, 9})
	r := c.Report()
	if r.Acknowledged != 3 || r.Lost.Count != 1 || r.Duplicated.Count != 1 || r.Moved.Count != 0 || r.UnackedPresent != 0 {
		t.Fatalf("report %s, want 3 acknowledged, c lost, b duplicated, nothing else", r)
	}
	if !strings.Contains(r.String(), "c acknowledged at an unknown offset, missing from [final]") {
		t.Errorf("report %s does not name c as lost", r)
	}
}
