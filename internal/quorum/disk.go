package quorum

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// diskState is the durable state of a node, loaded at start-up.
type diskState struct {
	storage  *raft.MemoryStorage
	snapshot *raftpb.Snapshot // latest; index 0 holds only the bootstrap voter set
	wal      *walWriter
}

// loadDisk loads Dir into a MemoryStorage, bootstrapping a fresh directory
// with the static voter set. voters are raft ids, sorted.
func loadDisk(dir string, voters []uint64, logger *slog.Logger) (*diskState, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// A freshly created directory must itself survive a power loss.
	if err := fsutil.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, fmt.Errorf("fsync parent of %s: %w", dir, err)
	}
	snap, err := readSnapshotFile(dir)
	if err != nil {
		return nil, err
	}
	walPath := filepath.Join(dir, walFileName)
	if snap == nil {
		if _, err := os.Stat(walPath); err == nil {
			return nil, fmt.Errorf("%s exists but %s does not: the directory is incomplete", walPath, filepath.Join(dir, snapshotFileName))
		}
		return bootstrap(dir, voters)
	}
	if got := snap.GetMetadata().GetConfState().GetVoters(); !slices.Equal(sortedCopy(got), voters) {
		return nil, fmt.Errorf("controller voters (raft ids %v) differ from those this node was bootstrapped with in %s (raft ids %v); the voter set is static", voters, dir, got)
	}
	contents, rewrite, err := loadWAL(walPath, snap.GetMetadata(), logger)
	if err != nil {
		return nil, err
	}
	storage, err := fillStorage(snap, &contents)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", walPath, err)
	}
	var wal *walWriter
	if rewrite {
		wal, err = createWAL(dir, &contents)
	} else {
		wal, err = openWALForAppend(walPath)
	}
	if err != nil {
		return nil, err
	}
	return &diskState{storage: storage, snapshot: snap, wal: wal}, nil
}

// bootstrap writes the state every voter starts from: a snapshot at index 0
// holding only the voter set, and an empty WAL. Every voter derives the same
// state from the same static voter list, so no node needs to be told about
// the others by a conf change entry. The snapshot file is written first: a
// crash before the WAL exists is repaired by loadWAL.
func bootstrap(dir string, voters []uint64) (*diskState, error) {
	snap := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index:     new(uint64(0)),
		Term:      new(uint64(0)),
		ConfState: &raftpb.ConfState{Voters: slices.Clone(voters)},
	}}
	snap = raftpb.EnsureSnapshot(snap)
	if err := writeSnapshotFile(dir, snap); err != nil {
		return nil, err
	}
	wal, err := createWAL(dir, &walContents{header: snap.GetMetadata()})
	if err != nil {
		return nil, err
	}
	storage := raft.NewMemoryStorage()
	if err := storage.ApplySnapshot(snap); err != nil {
		wal.close()
		return nil, fmt.Errorf("bootstrap storage: %w", err)
	}
	return &diskState{storage: storage, snapshot: snap, wal: wal}, nil
}

// loadWAL reads the WAL, truncates a torn or corrupt tail, and reconciles
// it with the snapshot file. rewrite reports that the file on disk no
// longer matches the returned contents and must be rewritten.
func loadWAL(path string, snapMeta *raftpb.SnapshotMetadata, logger *slog.Logger) (contents walContents, rewrite bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// A crash between writing the snapshot and the WAL that follows it.
		logger.Warn("quorum: WAL missing, starting it from the snapshot", "path", path, "snapshotIndex", snapMeta.GetIndex())
		return walContents{header: snapMeta}, true, nil
	}
	if err != nil {
		return contents, false, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return contents, false, fmt.Errorf("stat %s: %w", path, err)
	}
	contents, good, cut := readWAL(f, info.Size())
	if cut != nil {
		logger.Warn("quorum: WAL tail is torn or corrupt, truncating it (normal after a crash mid-write)",
			"path", path, "reason", cut, "keptBytes", good, "cutBytes", info.Size()-good,
			"keptFrames", contents.frames, "lastIndex", contents.lastIndex())
		if err := truncateSync(f, good); err != nil {
			return contents, false, fmt.Errorf("truncate %s: %w", path, err)
		}
	}
	rewrite, err = reconcileWAL(&contents, snapMeta, logger)
	if err != nil {
		return contents, false, fmt.Errorf("%s: %w", path, err)
	}
	return contents, rewrite, nil
}

// reconcileWAL makes the WAL contents continue from the snapshot file.
func reconcileWAL(w *walContents, snapMeta *raftpb.SnapshotMetadata, logger *slog.Logger) (rewrite bool, err error) {
	snapIndex, snapTerm := snapMeta.GetIndex(), snapMeta.GetTerm()
	switch {
	case w.header == nil:
		logger.Error("quorum: WAL header unreadable; the hard state (term and vote) is lost", "snapshotIndex", snapIndex)
		*w = walContents{header: snapMeta}
		return true, nil
	case w.header.GetIndex() > snapIndex:
		return false, fmt.Errorf("WAL continues from index %d but the snapshot file is at index %d; the snapshot is always written first", w.header.GetIndex(), snapIndex)
	case w.header.GetIndex() == snapIndex:
		if w.header.GetTerm() != snapTerm {
			return false, fmt.Errorf("WAL header term %d differs from snapshot term %d at index %d", w.header.GetTerm(), snapTerm, snapIndex)
		}
	default:
		// The snapshot was written but the WAL not yet rewritten. Entries
		// after the snapshot belong to the same log only if the WAL holds
		// the snapshot's own index with the same term (raft's log matching).
		var kept []*raftpb.Entry
		if term, ok := w.termAt(snapIndex); ok && term == snapTerm {
			kept = w.entries[snapIndex-w.header.GetIndex():]
		}
		logger.Info("quorum: WAL predates the snapshot file, rewriting it",
			"walFrom", w.header.GetIndex(), "snapshotIndex", snapIndex, "entriesKept", len(kept))
		w.header, w.entries = snapMeta, kept
		rewrite = true
	}
	return rewrite, clampHardState(w)
}

// clampHardState brings the hard state up to the snapshot it now follows.
// A commit index below the snapshot is raised: commit frames are not always
// fsynced, the snapshot is. A term below the snapshot's is raised with no
// vote: had this node voted in a later term, that vote's frame would have
// been fsynced before the vote was sent. A commit beyond the log is refused.
func clampHardState(w *walContents) error {
	if w.hardState == nil {
		return nil
	}
	if w.hardState.GetTerm() < w.header.GetTerm() {
		w.hardState.Term, w.hardState.Vote = new(w.header.GetTerm()), new(uint64(0))
	}
	if w.hardState.GetCommit() < w.header.GetIndex() {
		w.hardState.Commit = new(w.header.GetIndex())
	}
	if w.hardState.GetCommit() > w.lastIndex() {
		return fmt.Errorf("commit index %d is beyond the last entry %d: committed entries are missing", w.hardState.GetCommit(), w.lastIndex())
	}
	return nil
}

// fillStorage builds the MemoryStorage raft starts from.
func fillStorage(snap *raftpb.Snapshot, w *walContents) (*raft.MemoryStorage, error) {
	storage := raft.NewMemoryStorage()
	if err := storage.ApplySnapshot(snap); err != nil {
		return nil, fmt.Errorf("apply snapshot: %w", err)
	}
	if err := storage.Append(w.entries); err != nil {
		return nil, fmt.Errorf("append entries: %w", err)
	}
	if w.hardState != nil {
		if err := storage.SetHardState(w.hardState); err != nil {
			return nil, fmt.Errorf("set hard state: %w", err)
		}
	}
	return storage, nil
}

func truncateSync(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(f.Name()))
}

func sortedCopy(ids []uint64) []uint64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
