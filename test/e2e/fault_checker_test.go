package e2e

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// The fault suite's checker: a pure record of what producers were told
// (acknowledgements) and what readers saw (values at partition offsets),
// judged once at the end. It knows nothing of brokers or clients, so its
// unit tests (fault_checker_unit_test.go) feed it synthetic histories with
// each anomaly and prove every count can be non-zero.
//
// Values are unique per produce attempt: a value names one record, so the
// same value at two positions is a duplicate, and a position showing two
// values was rewritten.

// faultPos is a record's place in a topic: partition and offset.
type faultPos struct {
	Partition int32
	Offset    int64
}

func (p faultPos) String() string { return fmt.Sprintf("%d/%d", p.Partition, p.Offset) }

// faultAckSource is the name under which acknowledgements take part in the
// inconsistency check: an acknowledgement says "v is at p" as a read does.
const faultAckSource = "ack"

// faultExamplesMax bounds the examples kept per anomaly kind: the counts
// are exact, the examples only illustrate them.
const faultExamplesMax = 5

// faultChecker collects a history from any goroutine. The zero value is
// not usable; use newFaultChecker.
type faultChecker struct {
	mu sync.Mutex // guards everything below
	// acked is value → the position its acknowledgement named. A second
	// acknowledgement of one value at another position is kept in ackDups.
	acked   map[string]faultPos
	ackDups map[string][]faultPos
	// unplaced holds values acknowledged without an offset (kcat reports
	// a delivery, not where): they count as acknowledged for lost and
	// duplicated, and cannot be moved.
	unplaced map[string]bool
	// reads is source → position → the first value that source saw there;
	// readConflicts is source → position → later different values.
	reads         map[string]map[faultPos]string
	readConflicts map[string]map[faultPos][]string
	// final names the sources that are full reads at the end: a value
	// acknowledged but missing from one of them is lost there.
	final map[string]bool
}

func newFaultChecker() *faultChecker {
	return &faultChecker{
		acked:         map[string]faultPos{},
		ackDups:       map[string][]faultPos{},
		unplaced:      map[string]bool{},
		reads:         map[string]map[faultPos]string{},
		readConflicts: map[string]map[faultPos][]string{},
		final:         map[string]bool{},
	}
}

// Acked records that a produce of value was acknowledged at pos.
func (c *faultChecker) Acked(value string, pos faultPos) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.acked[value]; ok {
		if old != pos && !slices.Contains(c.ackDups[value], pos) {
			c.ackDups[value] = append(c.ackDups[value], pos)
		}
		return
	}
	c.acked[value] = pos
}

// ackedOffsets is value → offset of every acknowledgement of partition
// p so far.
func (c *faultChecker) ackedOffsets(p int32) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for value, pos := range c.acked {
		if pos.Partition == p {
			out[value] = pos.Offset
		}
	}
	return out
}

// AckedUnplaced records that a produce of value was acknowledged, at an
// offset the client did not say.
func (c *faultChecker) AckedUnplaced(value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unplaced[value] = true
}

// Read records that source saw value at pos: a consumer during the run,
// or a full read at the end (see Final).
func (c *faultChecker) Read(source, value string, pos faultPos) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := c.reads[source]
	if seen == nil {
		seen = map[faultPos]string{}
		c.reads[source] = seen
	}
	old, ok := seen[pos]
	switch {
	case !ok:
		seen[pos] = value
	case old != value:
		if c.readConflicts[source] == nil {
			c.readConflicts[source] = map[faultPos][]string{}
		}
		if !slices.Contains(c.readConflicts[source][pos], value) {
			c.readConflicts[source][pos] = append(c.readConflicts[source][pos], value)
		}
	}
}

// Final declares source a full read at the end (through a leader, or a
// replica's copy): every acknowledged value must be in it. A final source
// that read nothing is declared here so that it still counts.
func (c *faultChecker) Final(source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.final[source] = true
	if c.reads[source] == nil {
		c.reads[source] = map[faultPos]string{}
	}
}

// faultAnomalies is one kind of anomaly: how many, and a few examples.
type faultAnomalies struct {
	Count    int
	Examples []string
}

func (a *faultAnomalies) add(format string, args ...any) {
	a.Count++
	if len(a.Examples) < faultExamplesMax {
		a.Examples = append(a.Examples, fmt.Sprintf(format, args...))
	}
}

// faultReport is the checker's verdict.
type faultReport struct {
	Acknowledged int
	// Lost: acknowledged values missing from at least one final source;
	// LostBySource counts them per final source.
	Lost         faultAnomalies
	LostBySource map[string]int
	// Duplicated: values seen (or acknowledged) at two or more positions.
	Duplicated faultAnomalies
	// Moved: values read at a position other than their acknowledgement's.
	Moved faultAnomalies
	// Inconsistent: positions where acknowledgements and reads, of one
	// source or across sources, show two or more values.
	Inconsistent faultAnomalies
	// UnackedPresent: values read somewhere that no acknowledgement names
	// (failed or unanswered produces that were written anyway): allowed.
	UnackedPresent int
}

// OK reports whether the history has no anomaly that breaks a guarantee.
func (r faultReport) OK() bool {
	return r.Lost.Count == 0 && r.Duplicated.Count == 0 && r.Moved.Count == 0 && r.Inconsistent.Count == 0
}

// String is the report in a few lines, examples included.
func (r faultReport) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "acknowledged %d, lost %d %v, duplicated %d, moved %d, inconsistent %d, unacknowledged but present %d",
		r.Acknowledged, r.Lost.Count, r.LostBySource, r.Duplicated.Count, r.Moved.Count, r.Inconsistent.Count, r.UnackedPresent)
	for _, k := range []struct {
		name string
		a    faultAnomalies
	}{{"lost", r.Lost}, {"duplicated", r.Duplicated}, {"moved", r.Moved}, {"inconsistent", r.Inconsistent}} {
		for _, e := range k.a.Examples {
			fmt.Fprintf(&sb, "\n  %s: %s", k.name, e)
		}
	}
	return sb.String()
}

// Report judges the history collected so far.
func (c *faultChecker) Report() faultReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := faultReport{Acknowledged: len(c.acked), LostBySource: map[string]int{}}
	for value := range c.unplaced {
		if _, ok := c.acked[value]; !ok {
			r.Acknowledged++
		}
	}
	sources := slices.Sorted(maps.Keys(c.reads))
	// Where each value was seen, across every source and acknowledgement.
	where := map[string]map[faultPos][]string{} // value → position → sources
	note := func(value string, pos faultPos, source string) {
		if where[value] == nil {
			where[value] = map[faultPos][]string{}
		}
		where[value][pos] = append(where[value][pos], source)
	}
	for value, pos := range c.acked {
		note(value, pos, faultAckSource)
		for _, other := range c.ackDups[value] {
			note(value, other, faultAckSource)
		}
	}
	for _, source := range sources {
		for pos, value := range c.reads[source] {
			note(value, pos, source)
		}
		for pos, values := range c.readConflicts[source] {
			for _, value := range values {
				note(value, pos, source)
			}
		}
	}
	c.lostLocked(&r, sources)
	c.placesLocked(&r, where)
	r.Inconsistent = inconsistencies(where)
	return r
}

// lostLocked counts acknowledged values missing from final sources.
//
// REQUIRES: c.mu
func (c *faultChecker) lostLocked(r *faultReport, sources []string) {
	// Which values each final source holds, wherever it holds them: a
	// value there at another offset is moved, not lost.
	holds := map[string]map[string]bool{}
	for _, source := range sources {
		if !c.final[source] {
			continue
		}
		holds[source] = map[string]bool{}
		for _, value := range c.reads[source] {
			holds[source][value] = true
		}
		r.LostBySource[source] = 0
	}
	values := sortedKeys(c.acked)
	for value := range c.unplaced {
		if _, ok := c.acked[value]; !ok {
			values = append(values, value)
		}
	}
	slices.Sort(values)
	for _, value := range values {
		var missing []string
		for _, source := range sources {
			if c.final[source] && !holds[source][value] {
				missing = append(missing, source)
				r.LostBySource[source]++
			}
		}
		if len(missing) > 0 {
			at := "an unknown offset"
			if pos, ok := c.acked[value]; ok {
				at = pos.String()
			}
			r.Lost.add("%s acknowledged at %s, missing from %v", value, at, missing)
		}
	}
}

// placesLocked counts duplicated, moved and unacknowledged values.
//
// REQUIRES: c.mu
func (c *faultChecker) placesLocked(r *faultReport, where map[string]map[faultPos][]string) {
	for _, value := range sortedKeys(where) {
		places := where[value]
		ack, acked := c.acked[value]
		if !acked && !c.unplaced[value] {
			r.UnackedPresent++
		}
		// Two read positions, or two acknowledged ones, duplicate the
		// value; one read position other than the acknowledged one only
		// moves it.
		readAt, ackedAt := 0, 0
		for _, srcs := range places {
			if slices.ContainsFunc(srcs, func(s string) bool { return s != faultAckSource }) {
				readAt++
			}
			if slices.Contains(srcs, faultAckSource) {
				ackedAt++
			}
		}
		if readAt > 1 || ackedAt > 1 {
			r.Duplicated.add("%s at %s", value, describePlaces(places))
		}
		if !acked {
			continue
		}
		var elsewhere []faultPos
		for pos, srcs := range places {
			if pos != ack && slices.ContainsFunc(srcs, func(s string) bool { return s != faultAckSource }) {
				elsewhere = append(elsewhere, pos)
			}
		}
		if len(elsewhere) > 0 {
			slices.SortFunc(elsewhere, comparePos)
			r.Moved.add("%s acknowledged at %s, read at %v", value, ack, elsewhere)
		}
	}
}

// inconsistencies finds positions that show more than one value.
func inconsistencies(where map[string]map[faultPos][]string) faultAnomalies {
	at := map[faultPos]map[string][]string{} // position → value → sources
	for value, places := range where {
		for pos, srcs := range places {
			if at[pos] == nil {
				at[pos] = map[string][]string{}
			}
			at[pos][value] = append(at[pos][value], srcs...)
		}
	}
	var a faultAnomalies
	positions := slices.SortedFunc(maps.Keys(at), comparePos)
	for _, pos := range positions {
		if len(at[pos]) < 2 {
			continue
		}
		var parts []string
		for _, value := range sortedKeys(at[pos]) {
			srcs := slices.Compact(slices.Sorted(slices.Values(at[pos][value])))
			parts = append(parts, fmt.Sprintf("%s by %v", value, srcs))
		}
		a.add("%s holds %s", pos, strings.Join(parts, " and "))
	}
	return a
}

// describePlaces lists positions with the sources that saw each.
func describePlaces(places map[faultPos][]string) string {
	var parts []string
	for _, pos := range slices.SortedFunc(maps.Keys(places), comparePos) {
		srcs := slices.Compact(slices.Sorted(slices.Values(places[pos])))
		parts = append(parts, fmt.Sprintf("%s %v", pos, srcs))
	}
	return strings.Join(parts, ", ")
}

func comparePos(a, b faultPos) int {
	return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
}

// sortedKeys makes reports deterministic: examples in value order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
