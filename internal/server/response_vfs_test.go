package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/vfs"
	"github.com/sluice-dev/sluice/internal/vfs/errorfs"
)

// TestWriteSectionsWithoutOSFile: sections of a log on a file system with
// no *os.File beneath (an errorfs) cannot go through sendfile, even on a
// zero-copy connection: they are copied, and the frames are the same.
func TestWriteSectionsWithoutOSFile(t *testing.T) {
	cfg := log.DefaultConfig()
	cfg.FlushMessages = 1 << 40 // visible at once
	l, err := log.Open(t.TempDir(), cfg, log.OpenOptions{FS: errorfs.Wrap(vfs.Default)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i, n := range []int{40_000, 300_000} {
		batch := testBatch(int64(i), strings.Repeat("v", n))
		h, err := record.Validate(batch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(batch, h); err != nil {
			t.Fatal(err)
		}
	}
	h := startWriter(t, true)
	defer h.close()
	sentBefore := sentFileBytes.Load()
	resp := fakeResponse(t, 1<<20, l)
	want := appendResponse(nil, 7, resp)
	h.cn.queue <- &pending{correlationID: 7, resp: resp}
	if got := h.readFrame(t); !bytes.Equal(got, want) {
		t.Fatalf("%d bytes differ from the copying encoding's %d", len(got), len(want))
	}
	if sent := sentFileBytes.Load() - sentBefore; sent != 0 {
		t.Fatalf("sendfile sent %d bytes of a file it has no descriptor for", sent)
	}
}
