package metadata

import "testing"

// TestHistoryBounds: the history keeps at most historyEntriesMax entries
// and about historyBytesMax bytes (always the newest entry), and says
// when it no longer reaches back to an index.
func TestHistoryBounds(t *testing.T) {
	h := newHistory()
	for i := range uint64(historyEntriesMax + 5) {
		h.add(i+1, []byte("x"))
	}
	if len(h.entries) != historyEntriesMax || h.entries[0].Index != 6 {
		t.Fatalf("%d entries from index %d", len(h.entries), h.entries[0].Index)
	}
	if _, covered, _ := h.after(4, historyBytesMax); covered {
		t.Fatal("the history claims to reach back to index 5")
	}
	if got, covered, _ := h.after(5, historyBytesMax); !covered || len(got) == 0 || got[0].Index != 6 {
		t.Fatalf("after 5: covered %v, first %v", covered, got)
	}
	big := make([]byte, historyBytesMax/2+1)
	for i := range uint64(3) {
		h.add(uint64(historyEntriesMax+6)+i, big)
	}
	if h.bytes > historyBytesMax+len(big) || len(h.entries) != 1 {
		t.Fatalf("%d bytes in %d entries after three large ones", h.bytes, len(h.entries))
	}
}
