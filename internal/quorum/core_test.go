package quorum

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSingleVoterElectsItselfAndCommits(t *testing.T) {
	h := newHarness(t, 1, 0)
	h.readyAll()
	// A lone voter campaigns at start: no tick needed.
	if !h.isLeader(0) || h.leaderOf(0) != 0 {
		t.Fatalf("single voter is not leader (leader %d)", h.leaderOf(0))
	}
	want := seq("r", 0, 5)
	for _, d := range want {
		h.mustPropose(0, d)
	}
	h.requireSameState(want)
	if got, applied := h.sm(0).state(), h.nodes[0].core.appliedIndex; got[len(got)-1].Index != applied {
		t.Fatalf("last applied entry %d, core applied index %d", got[len(got)-1].Index, applied)
	}
}

func TestThreeVotersAgreeOnOrder(t *testing.T) {
	h := newHarness(t, 3, 0)
	if err := h.propose(1, "x"); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("propose before any election: %v, want ErrNoLeader", err)
	}
	leader := h.waitLeader()
	var want []string
	// Proposals from every voter, some batched in one Ready, some
	// separated by heartbeats.
	for i, d := range seq("e", 0, 30) {
		from := h.ids[i%len(h.ids)]
		if err := h.nodes[from].core.propose([]byte(d)); err != nil {
			t.Fatalf("propose %s on %d: %v", d, from, err)
		}
		want = append(want, d)
		if i%4 == 3 {
			h.readyAll()
			h.tick(1)
		}
	}
	h.readyAll()
	h.tick(3)
	if h.waitLeader() != leader {
		t.Fatalf("leader changed without a fault")
	}
	// Proposals from different voters may interleave in any order, but
	// every voter must apply the same sequence.
	got := h.sm(leader).data()
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("leader applied %q, want the records %q", got, want)
	}
	h.requireSameState(got)
}

func TestProposalThroughFollowerReachesEveryone(t *testing.T) {
	h := newHarness(t, 3, 0)
	leader := h.waitLeader()
	follower := h.ids[(slices.Index(h.ids, leader)+1)%len(h.ids)]
	h.mustPropose(follower, "via-follower")
	h.mustPropose(leader, "via-leader")
	h.tick(2)
	h.requireSameState([]string{"via-follower", "via-leader"})
}

func TestIsolatedLeaderIsReplacedAndDoesNotDisruptOnReturn(t *testing.T) {
	h := newHarness(t, 3, 0)
	old := h.waitLeader()
	h.mustPropose(old, "before")
	h.tick(2)
	oldTerm := h.term(old)

	h.isolate(old, false)
	var rest []int32
	for _, id := range h.ids {
		if id != old {
			rest = append(rest, id)
		}
	}
	leader := h.waitLeader(rest...)
	newTerm := h.term(leader)
	if newTerm <= oldTerm {
		t.Fatalf("new leader %d has term %d, old term %d", leader, newTerm, oldTerm)
	}
	h.mustPropose(leader, "after")
	h.tick(electionTicks * 3)
	// CheckQuorum: the isolated leader steps down. PreVote: its failed
	// campaigns do not raise its term.
	if h.isLeader(old) {
		t.Fatalf("isolated node %d still believes it leads", old)
	}
	if h.term(old) != oldTerm {
		t.Fatalf("isolated node's term went from %d to %d: pre-vote not in effect", oldTerm, h.term(old))
	}

	h.isolate(old, true)
	h.tick(electionTicks * 3)
	if l := h.waitLeader(); l != leader || h.term(leader) != newTerm {
		t.Fatalf("after the old leader returned: leader %d term %d, want %d term %d", l, h.term(l), leader, newTerm)
	}
	h.requireSameState([]string{"before", "after"})
}

func TestCrashRestartKeepsLogAndCatchesUp(t *testing.T) {
	h := newHarness(t, 3, 0)
	leader := h.waitLeader()
	follower := h.ids[(slices.Index(h.ids, leader)+1)%len(h.ids)]
	first := seq("a", 0, 10)
	for _, d := range first {
		h.mustPropose(leader, d)
	}
	h.tick(2)
	lastBefore, _ := h.nodes[follower].core.storage.LastIndex()
	h.crash(follower)

	second := seq("b", 0, 10)
	for _, d := range second {
		h.mustPropose(leader, d)
	}
	h.tick(2)

	// Back from its own disk, before hearing from anyone, the follower has
	// its log and re-applies what it knew to be committed.
	h.start(follower)
	h.ready(follower)
	if last, _ := h.nodes[follower].core.storage.LastIndex(); last != lastBefore {
		t.Fatalf("restarted log ends at %d, before the crash at %d", last, lastBefore)
	}
	if got := h.sm(follower).data(); !slices.Equal(got, first) {
		t.Fatalf("restarted follower re-applied %q from disk, want %q", got, first)
	}
	h.tick(3)
	h.requireSameState(append(first, second...))

	// The leader too keeps everything across a crash, and a new leader
	// (or the same) carries on.
	h.crash(leader)
	h.start(leader)
	h.waitLeader()
	h.mustPropose(h.waitLeader(), "c")
	h.tick(3)
	h.requireSameState(append(append(first, second...), "c"))
}

func TestTornWALTailIsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(t *testing.T, path string, frames []int64) int64 // returns the size to expect after load
	}{
		{"half a frame", func(t *testing.T, path string, frames []int64) int64 {
			last := frames[len(frames)-1]
			info, _ := os.Stat(path)
			mustTruncate(t, path, last+(info.Size()-last)/2)
			return last
		}},
		{"garbage after the last frame", func(t *testing.T, path string, frames []int64) int64 {
			info, _ := os.Stat(path)
			appendFile(t, path, []byte("\x00\x00\x00\x05garbage that is not a frame"))
			return info.Size()
		}},
		{"bad CRC in the last frame", func(t *testing.T, path string, frames []int64) int64 {
			last := frames[len(frames)-1]
			flipByte(t, path, last+frameHeaderBytes)
			return last
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, 0)
			h.readyAll()
			want := seq("r", 0, 5)
			for _, d := range want {
				h.mustPropose(0, d)
			}
			h.crash(0)
			path := filepath.Join(h.nodes[0].dir, walFileName)
			wantSize := tc.tear(t, path, frameStarts(t, path))

			h.start(0) // loads and truncates; writes nothing before a Ready
			if info, _ := os.Stat(path); info.Size() != wantSize {
				t.Fatalf("WAL is %d bytes after load, want %d", info.Size(), wantSize)
			}
			h.readyAll()
			h.mustPropose(0, "after")
			got := h.sm(0).data()
			// Only the torn last frame may be lost: a hard state, or the
			// last entry (which was never acknowledged by a torn fsync).
			if !slices.Equal(got, append(slices.Clone(want), "after")) &&
				!slices.Equal(got, append(slices.Clone(want[:4]), "after")) {
				t.Fatalf("after restart applied %q", got)
			}
		})
	}
}

func TestSnapshotCompactionAndRestart(t *testing.T) {
	h := newHarness(t, 1, 10)
	h.readyAll()
	want := seq("s", 0, 35)
	for _, d := range want {
		h.mustPropose(0, d)
	}
	c := h.nodes[0].core
	if c.snapshotIndex < 30 {
		t.Fatalf("snapshot index %d after 35 entries with SnapshotEntries 10", c.snapshotIndex)
	}
	if first, _ := c.storage.FirstIndex(); first <= 1 {
		t.Fatalf("log not compacted: first index %d", first)
	}
	snapIndex := c.snapshotIndex
	wal := readWALFile(t, filepath.Join(h.nodes[0].dir, walFileName))
	if wal.header.GetIndex() != snapIndex || len(wal.entries) >= 10 {
		t.Fatalf("WAL continues from %d with %d entries, want from %d with fewer than 10", wal.header.GetIndex(), len(wal.entries), snapIndex)
	}

	h.crash(0)
	h.start(0)
	h.readyAll()
	if got := h.sm(0).restoreIndexes(); !slices.Equal(got, []uint64{snapIndex}) {
		t.Fatalf("Restore calls at %v, want [%d]", got, snapIndex)
	}
	h.requireSameState(want)
	h.mustPropose(0, "more")
	h.requireSameState(append(want, "more"))
}

func TestLaggingFollowerReceivesSnapshot(t *testing.T) {
	h := newHarness(t, 3, 10)
	leader := h.waitLeader()
	lagging := h.ids[(slices.Index(h.ids, leader)+1)%len(h.ids)]
	h.mustPropose(leader, "first")
	h.tick(2)

	h.isolate(lagging, false)
	want := append([]string{"first"}, seq("x", 0, 40)...)
	for _, d := range want[1:] {
		h.mustPropose(leader, d)
	}
	h.tick(2)
	lagLast, _ := h.nodes[lagging].core.storage.LastIndex()
	if first, _ := h.nodes[leader].core.storage.FirstIndex(); first <= lagLast+1 {
		t.Fatalf("leader log starts at %d, the lagging node has up to %d: no snapshot needed", first, lagLast)
	}

	h.isolate(lagging, true)
	h.tick(electionTicks)
	if len(h.sm(lagging).restoreIndexes()) == 0 {
		t.Fatalf("lagging node caught up without a snapshot")
	}
	h.requireSameState(want)

	// The received snapshot is on disk: a restart restores from it.
	snapIndex := h.nodes[lagging].core.snapshotIndex
	h.crash(lagging)
	h.start(lagging)
	h.ready(lagging)
	if got := h.sm(lagging).restoreIndexes(); len(got) != 1 || got[0] < snapIndex {
		t.Fatalf("restart restored from %v, want one snapshot at or after %d", got, snapIndex)
	}
	h.tick(2)
	h.requireSameState(want)
}

func TestStartRejectsChangedVoters(t *testing.T) {
	h := newHarness(t, 3, 0)
	dir := h.nodes[0].dir
	h.crash(0)
	sm := &testSM{}
	_, err := Start(Config{
		NodeID: 0, Voters: map[int32]string{0: "127.0.0.1:1", 1: "127.0.0.1:2"}, Dir: dir,
		Apply: sm.apply, Snapshot: sm.snapshot, Restore: sm.restore, Logger: testLogger(t),
	})
	if err == nil || !strings.Contains(err.Error(), "voter set is static") {
		t.Fatalf("Start with a different voter set: %v", err)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// frameStarts returns the offset of every frame in a WAL file.
func frameStarts(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	fr := newFrameReader(f, info.Size(), walFrameBytesMax)
	var starts []int64
	for {
		if _, _, err := fr.next(); err != nil {
			return starts
		}
		starts = append(starts, fr.lastStart)
	}
}

func readWALFile(t *testing.T, path string) walContents {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	w, _, cut := readWAL(f, info.Size())
	if cut != nil {
		t.Fatalf("%s: %v", path, cut)
	}
	return w
}

func mustTruncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, offset int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[offset] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
