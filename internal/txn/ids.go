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

// idBlockSize is how many producer ids are reserved per write to disk. A
// restart skips the rest of the block, so ids are never handed out twice.
const idBlockSize = 1000

// IDs allocates producer ids, durable across restarts: the end of the
// reserved block is written and fsynced before any id in it is given out.
type IDs struct {
	path string

	mu       sync.Mutex // guards next and blockEnd
	next     int64
	blockEnd int64
}

// OpenIDs loads the allocator state from path (created if missing).
func OpenIDs(path string) (*IDs, error) {
	a := &IDs{path: path}
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
		a.next, a.blockEnd = n, n
	}
	return a, nil
}

// Next returns a producer id never returned before.
func (a *IDs) Next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == a.blockEnd {
		end := a.blockEnd + idBlockSize
		if err := fsutil.WriteFileSync(a.path, []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
			return 0, fmt.Errorf("reserve producer ids: %w", err)
		}
		a.blockEnd = end
	}
	id := a.next
	a.next++
	return id, nil
}
