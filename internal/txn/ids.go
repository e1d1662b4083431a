package txn

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// idBlockSize is how many producer ids are reserved at a time. A restart
// skips the rest of the block, so ids are never handed out twice.
const idBlockSize = 1000

// IDs allocates producer ids in blocks reserved from a source that never
// hands a block out twice: the cluster metadata, or a file on one node.
type IDs struct {
	// reserve returns the first id of a new block of count ids.
	reserve func(count int64) (int64, error)

	mu       sync.Mutex // guards next and blockEnd
	next     int64
	blockEnd int64
}

// NewIDs allocates ids from blocks that reserve hands out.
func NewIDs(reserve func(count int64) (int64, error)) *IDs {
	return &IDs{reserve: reserve}
}

// OpenIDs allocates ids from blocks recorded in the file at path (created
// if missing): the end of a block is written and fsynced before any id in
// it is given out, and a restart skips the rest of the block.
func OpenIDs(path string) (*IDs, error) {
	var reserved int64
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read producer id block: %w", err)
	default:
		n, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil || n < 0 {
			return nil, fmt.Errorf("producer id block file %s is corrupt: %q", path, b)
		}
		reserved = n
	}
	return NewIDs(func(count int64) (int64, error) {
		end := reserved + count
		if err := fsutil.WriteFileSync(path, []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
			return 0, fmt.Errorf("reserve producer ids: %w", err)
		}
		start := reserved
		reserved = end
		return start, nil
	}), nil
}

// Next returns a producer id never returned before.
func (a *IDs) Next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == a.blockEnd {
		start, err := a.reserve(idBlockSize)
		if err != nil {
			return 0, err
		}
		a.next, a.blockEnd = start, start+idBlockSize
	}
	id := a.next
	a.next++
	return id, nil
}
