package quorum

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// walBuilder writes WAL bytes frame by frame, remembering where each frame
// starts.
type walBuilder struct {
	t      testing.TB
	buf    []byte
	starts []int
}

func (b *walBuilder) frame(typ frameType, m proto.Message) *walBuilder {
	b.t.Helper()
	b.starts = append(b.starts, len(b.buf))
	var err error
	if b.buf, err = appendFrame(b.buf, typ, m); err != nil {
		b.t.Fatal(err)
	}
	return b
}

func (b *walBuilder) header(index, term uint64) *walBuilder {
	return b.frame(frameSnapshotMeta, &raftpb.SnapshotMetadata{
		Index: new(index), Term: new(term), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}},
	})
}

func (b *walBuilder) entry(index, term uint64, data string) *walBuilder {
	return b.frame(frameEntry, &raftpb.Entry{Index: new(index), Term: new(term), Data: []byte(data)})
}

func (b *walBuilder) hardState(term, commit uint64) *walBuilder {
	return b.frame(frameHardState, &raftpb.HardState{Term: new(term), Vote: new(uint64(1)), Commit: new(commit)})
}

// goodWAL is header at 10, entries 11..15 in term 2, commit 13.
func goodWAL(t testing.TB) *walBuilder {
	b := &walBuilder{t: t}
	b.header(10, 1).hardState(2, 10)
	for i := uint64(11); i <= 15; i++ {
		b.entry(i, 2, string(rune('a'+i-11)))
	}
	return b.hardState(2, 13)
}

func entryIndexes(w walContents) []uint64 {
	var out []uint64
	for _, e := range w.entries {
		out = append(out, e.GetIndex())
	}
	return out
}

func TestReadWALStopsAtFirstBadFrame(t *testing.T) {
	full := goodWAL(t)
	for _, tc := range []struct {
		name        string
		data        func() []byte
		wantEntries []uint64
		wantGood    int // -1: the whole input
		wantErr     error
	}{
		{"clean", func() []byte { return full.buf }, []uint64{11, 12, 13, 14, 15}, -1, nil},
		{"empty", func() []byte { return nil }, nil, 0, nil},
		{"torn header", func() []byte { return full.buf[:full.starts[4]+5] }, []uint64{11, 12}, full.starts[4], errFrameTorn},
		{"torn payload", func() []byte { return full.buf[:full.starts[4]+frameHeaderBytes+1] }, []uint64{11, 12}, full.starts[4], errFrameTorn},
		{"CRC in the middle", func() []byte {
			data := bytes.Clone(full.buf)
			data[full.starts[4]+frameHeaderBytes] ^= 1
			return data
		}, []uint64{11, 12}, full.starts[4], errFrameCRC},
		{"huge length", func() []byte {
			data := bytes.Clone(full.buf)
			copy(data[full.starts[3]:], []byte{0xff, 0xff, 0xff, 0xff})
			return data
		}, []uint64{11}, full.starts[3], errFrameTooLarge},
		{"no header", func() []byte { return (&walBuilder{t: t}).entry(1, 1, "a").buf }, nil, 0, errWALInvalid},
		{"index gap", func() []byte { return goodWAL(t).entry(17, 2, "gap").entry(16, 2, "never").buf }, []uint64{11, 12, 13, 14, 15}, len(full.buf), errWALInvalid},
		{"term goes back", func() []byte { return goodWAL(t).entry(16, 1, "old").buf }, []uint64{11, 12, 13, 14, 15}, len(full.buf), errWALInvalid},
		{"uncommitted tail replaced", func() []byte { return goodWAL(t).entry(14, 3, "new").buf }, []uint64{11, 12, 13, 14}, -1, nil},
		{"committed entry replaced", func() []byte { return goodWAL(t).entry(13, 3, "new").buf }, []uint64{11, 12, 13, 14, 15}, len(full.buf), errWALInvalid},
		{"commit goes back", func() []byte { return goodWAL(t).hardState(2, 12).buf }, []uint64{11, 12, 13, 14, 15}, len(full.buf), errWALInvalid},
		{"second header", func() []byte { return goodWAL(t).header(20, 2).buf }, []uint64{11, 12, 13, 14, 15}, len(full.buf), errWALInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data()
			w, good, err := readWAL(bytes.NewReader(data), int64(len(data)))
			if tc.wantGood == -1 {
				tc.wantGood = len(data)
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if good != int64(tc.wantGood) {
				t.Fatalf("good bytes %d, want %d", good, tc.wantGood)
			}
			if got := entryIndexes(w); !equalUint64s(got, tc.wantEntries) {
				t.Fatalf("entries %v, want %v", got, tc.wantEntries)
			}
		})
	}
}

func equalUint64s(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeWALRoundTrip(t *testing.T) {
	w, _, err := readWAL(bytes.NewReader(goodWAL(t).buf), int64(len(goodWAL(t).buf)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeWAL(&w)
	if err != nil {
		t.Fatal(err)
	}
	again, good, err := readWAL(bytes.NewReader(data), int64(len(data)))
	if err != nil || good != int64(len(data)) {
		t.Fatalf("re-read: good %d of %d, err %v", good, len(data), err)
	}
	if !proto.Equal(again.header, w.header) || !proto.Equal(again.hardState, w.hardState) || len(again.entries) != len(w.entries) {
		t.Fatalf("round trip changed the WAL")
	}
	for i := range w.entries {
		if !proto.Equal(again.entries[i], w.entries[i]) {
			t.Fatalf("entry %d changed", i)
		}
	}
}

func TestSnapshotFileRejectsDamage(t *testing.T) {
	snap := &raftpb.Snapshot{Data: []byte("state"), Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(7)), Term: new(uint64(2)), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}
	data, err := appendFrame(nil, frameSnapshot, snap)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeSnapshotFile(data); err != nil || !proto.Equal(got, raftpbEnsure(snap)) {
		t.Fatalf("decode good snapshot: %v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"torn":     data[:len(data)-1],
		"crc":      append(bytes.Clone(data[:len(data)-1]), data[len(data)-1]^1),
		"trailing": append(bytes.Clone(data), 0),
		"empty":    nil,
	} {
		if _, err := decodeSnapshotFile(bad); err == nil {
			t.Errorf("%s snapshot file accepted", name)
		}
	}
}

func raftpbEnsure(s *raftpb.Snapshot) *raftpb.Snapshot {
	return raftpb.EnsureSnapshot(proto.Clone(s).(*raftpb.Snapshot))
}

// FuzzWAL feeds arbitrary bytes to the WAL loader. It must never panic,
// and what it returns must come only from the good prefix it reports:
// reading that prefix alone gives the same result, with no error.
func FuzzWAL(f *testing.F) {
	good := goodWAL(f)
	f.Add(good.buf)
	f.Add(good.buf[:len(good.buf)-3])
	f.Add(goodWAL(f).entry(14, 3, "new").hardState(3, 14).buf)
	f.Add(goodWAL(f).entry(13, 3, "bad").buf)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, good, err := readWAL(bytes.NewReader(data), int64(len(data)))
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("good prefix %d of %d bytes", good, len(data))
		}
		if err == nil && good != int64(len(data)) {
			t.Fatalf("no error but only %d of %d bytes good", good, len(data))
		}
		prefix, goodAgain, errAgain := readWAL(bytes.NewReader(data[:good]), good)
		if errAgain != nil || goodAgain != good {
			t.Fatalf("good prefix of %d bytes re-read: %d good, %v", good, goodAgain, errAgain)
		}
		if prefix.frames != w.frames || !equalUint64s(entryIndexes(prefix), entryIndexes(w)) ||
			!proto.Equal(prefix.hardState, w.hardState) {
			t.Fatalf("entries beyond the good prefix: %v vs %v", entryIndexes(w), entryIndexes(prefix))
		}
		checkWALInvariants(t, w)
	})
}

// FuzzWALRecords builds CRC-valid WALs from fuzzer-chosen records, so the
// fuzzer explores the log rules (index gaps, terms, commits, replaced
// tails) instead of bouncing off the CRC. Each 4-byte record is
// [kind][a][b][c]: header(a, b), entry(a, b), hardState(a, b), or a frame
// of type c holding a single byte a.
func FuzzWALRecords(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 1, 1, 0, 1, 2, 1, 0, 2, 1, 2, 0, 1, 2, 2, 0})
	f.Add([]byte{0, 5, 1, 0, 1, 6, 1, 0, 1, 7, 2, 0, 1, 7, 3, 0, 2, 3, 6, 0})
	f.Add([]byte{0, 0, 0, 0, 3, 8, 0, 1})
	f.Fuzz(func(t *testing.T, records []byte) {
		b := &walBuilder{t: t}
		for i := 0; i+4 <= len(records); i += 4 {
			kind, x, y, z := records[i]%4, uint64(records[i+1]), uint64(records[i+2]), records[i+3]
			switch kind {
			case 0:
				b.header(x, y)
			case 1:
				b.entry(x, y, "d")
			case 2:
				b.hardState(x, y)
			case 3:
				b.buf = appendFrameBytes(b.buf, frameType(z), []byte{byte(x)})
			}
		}
		w, good, err := readWAL(bytes.NewReader(b.buf), int64(len(b.buf)))
		if err == nil && good != int64(len(b.buf)) {
			t.Fatalf("no error but only %d of %d bytes good", good, len(b.buf))
		}
		checkWALInvariants(t, w)
		if _, err := encodeWAL(&w); w.header != nil && err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func checkWALInvariants(t *testing.T, w walContents) {
	if w.header == nil {
		if len(w.entries) != 0 || w.hardState != nil {
			t.Fatalf("entries or hard state without a header")
		}
		return
	}
	prevTerm := w.header.GetTerm()
	for i, e := range w.entries {
		if e.GetIndex() != w.header.GetIndex()+uint64(i)+1 {
			t.Fatalf("entry %d has index %d after header %d", i, e.GetIndex(), w.header.GetIndex())
		}
		if e.GetTerm() < prevTerm || e.GetTerm() == 0 {
			t.Fatalf("term %d after %d at index %d", e.GetTerm(), prevTerm, e.GetIndex())
		}
		prevTerm = e.GetTerm()
	}
}

// TestReconcileWALWithSnapshot covers a crash between writing the snapshot
// file and rewriting the WAL, and the damaged cases around it.
func TestReconcileWALWithSnapshot(t *testing.T) {
	meta := func(index, term uint64) *raftpb.SnapshotMetadata {
		return &raftpb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}
	}
	load := func(b *walBuilder) walContents {
		w, _, err := readWAL(bytes.NewReader(b.buf), int64(len(b.buf)))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name        string
		wal         walContents
		snap        *raftpb.SnapshotMetadata
		wantEntries []uint64
		wantRewrite bool
		wantCommit  uint64
		wantErr     string
	}{
		{"same snapshot", load(goodWAL(t)), meta(10, 1), []uint64{11, 12, 13, 14, 15}, false, 13, ""},
		{"local snapshot newer than the WAL", load(goodWAL(t)), meta(13, 2), []uint64{14, 15}, true, 13, ""},
		{"snapshot beyond the commit frame", load(goodWAL(t)), meta(15, 2), nil, true, 15, ""},
		{"received snapshot from another history", load(goodWAL(t)), meta(14, 3), nil, true, 14, ""},
		{"received snapshot beyond the log", load(goodWAL(t)), meta(40, 3), nil, true, 40, ""},
		{"unreadable header", walContents{}, meta(10, 1), nil, true, 0, ""},
		{"WAL newer than snapshot", load(goodWAL(t)), meta(5, 1), nil, false, 0, "snapshot is always written first"},
		{"header term differs", load(goodWAL(t)), meta(10, 2), nil, false, 0, "differs from snapshot term"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.wal
			rewrite, err := reconcileWAL(&w, tc.snap, testLogger(t))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.hardState != nil && w.hardState.GetTerm() < tc.snap.GetTerm() {
				t.Fatalf("hard state term %d below the snapshot's %d", w.hardState.GetTerm(), tc.snap.GetTerm())
			}
			if rewrite != tc.wantRewrite || w.header.GetIndex() != tc.snap.GetIndex() ||
				!equalUint64s(entryIndexes(w), tc.wantEntries) || w.hardState.GetCommit() != tc.wantCommit {
				t.Fatalf("rewrite %v, header %d, entries %v, commit %d", rewrite, w.header.GetIndex(), entryIndexes(w), w.hardState.GetCommit())
			}
			if _, err := fillStorage(&raftpb.Snapshot{Metadata: tc.snap}, &w); err != nil {
				t.Fatalf("storage refuses the reconciled WAL: %v", err)
			}
		})
	}
}
