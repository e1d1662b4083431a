package quorum

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// writeSnapshotFile replaces Dir/snapshot atomically and durably.
func writeSnapshotFile(dir string, snap *raftpb.Snapshot) error {
	data, err := appendFrame(nil, frameSnapshot, snap)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, snapshotFileName)
	if err := fsutil.WriteFileSync(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readSnapshotFile returns the snapshot in Dir, or nil if there is none.
// Unlike the WAL, the snapshot file is only ever replaced by rename, so a
// damaged one is not a crash artefact and is an error.
func readSnapshotFile(dir string) (*raftpb.Snapshot, error) {
	path := filepath.Join(dir, snapshotFileName)
	data, err := readFileMax(path, snapshotFileBytesMax+frameHeaderBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	snap, err := decodeSnapshotFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s is damaged (remove the directory to fetch state from the leader again): %w", path, err)
	}
	return snap, nil
}

func decodeSnapshotFile(data []byte) (*raftpb.Snapshot, error) {
	fr := newFrameReader(bytes.NewReader(data), int64(len(data)), snapshotFileBytesMax)
	typ, payload, err := fr.next()
	if err != nil {
		return nil, err
	}
	if typ != frameSnapshot {
		return nil, fmt.Errorf("frame type %v, want %v", typ, frameSnapshot)
	}
	if fr.remaining != 0 {
		return nil, fmt.Errorf("%d bytes after the snapshot frame", fr.remaining)
	}
	snap := &raftpb.Snapshot{}
	if err := proto.Unmarshal(payload, snap); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	return raftpb.EnsureSnapshot(snap), nil
}

// readFileMax reads a whole file that must not exceed max bytes.
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is over the %d-byte limit", path, max)
	}
	return data, nil
}
