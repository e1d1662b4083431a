package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// mountSmallTmpfs mounts a tmpfs of size (mount's syntax, "8m") on a new
// directory and unmounts it when the test ends, after the broker stopped
// (cleanups run last registered first). It skips the test without root.
func mountSmallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull runs a broker on an 8 MiB file system and fills it. A
// produce the disk refuses gets KAFKA_STORAGE_ERROR, the broker logs one
// ERROR line naming the file and the limit per partition (not one per
// request), /metrics and /readyz say so, and every record acknowledged is
// kept. Once records are deleted and space freed, produces succeed again
// without a restart.
func TestDiskFull(t *testing.T) {
	mnt := mountSmallTmpfs(t, "8m")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := StartBroker(t, "KAFKA_LOG_DIRS="+filepath.Join(mnt, "data"), "KAFKA_HTTP_LISTENERS="+httpAddr,
		"KAFKA_LOG_RETENTION_CHECK_INTERVAL_MS=100", "KAFKA_LOG_SEGMENT_DELETE_DELAY_MS=0")
	base := "http://" + httpAddr
	ctx := testContext(t, 2*time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	segBytes := "1048576"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &segBytes}, "fill"); err != nil {
		t.Fatal(err)
	}

	// Fill the disk: 8 KiB records until one is refused.
	value := strings.Repeat("x", 8<<10)
	var acked int64
	var refusal error
	for i := 0; i < 2000 && refusal == nil; i++ {
		res := cl.ProduceSync(ctx, &kgo.Record{Topic: "fill", Value: []byte(value)})
		if err := res.FirstErr(); err != nil {
			refusal = err
		} else {
			acked++
		}
	}
	if refusal == nil {
		t.Fatal("2000 records of 8 KiB fit on an 8 MiB file system")
	}
	t.Logf("%d records acknowledged, then: %v", acked, refusal)

	// A raw produce shows the code the broker answers with.
	pc := testutil.Dial(t, b.Addr)
	batch := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: time.Now().UnixMilli(), Value: value})
	for i := 0; i < 3; i++ {
		resp := pc.RoundTrip(protoProduce(9, -1, "fill", 0, batch), int32(10+i)).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.KafkaStorageError.Code {
			t.Fatalf("produce to a full disk: %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
		}
	}
	if n := strings.Count(b.Output(), "the file system refused a write"); n != 1 {
		t.Fatalf("%d ERROR lines about the refused write, want 1:\n%s", n, b.Output())
	}
	if !strings.Contains(b.Output(), "no space left on device") || !strings.Contains(b.Output(), filepath.Join(mnt, "data", "fill-0")) {
		t.Fatalf("the ERROR line names neither the limit nor the path:\n%s", b.Output())
	}
	if got := scrape(t, base)["sluice_log_partitions_refusing_writes"]; got != 1 {
		t.Fatalf("sluice_log_partitions_refusing_writes = %v, want 1", got)
	}
	if code, body := httpDo(t, "GET", base+"/readyz", ""); code != 200 || !strings.Contains(body, "1 partitions refuse writes") {
		t.Fatalf("/readyz = %d %q, want 200 naming the refusing partition", code, body)
	}

	// Free space: delete every acknowledged record; the segments below the
	// new log start go. The checkpoint that makes the deletion survive a
	// crash may itself be refused while the disk is still full
	// (KAFKA_STORAGE_ERROR), so the client retries, as Kafka's do.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := adm.DeleteRecords(ctx, kadm.Offsets{"fill": {0: {Topic: "fill", Partition: 0, At: -1}}})
		if err == nil && resp.Error() == nil {
			break
		}
		if err != nil || !errors.Is(resp.Error(), kerr.KafkaStorageError) || time.Now().After(deadline) {
			t.Fatalf("DeleteRecords: %v %v\n%s", err, resp.Error(), b.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		res := cl.ProduceSync(ctx, &kgo.Record{Topic: "fill", Value: []byte(value)})
		if res.FirstErr() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce after freeing space: %v\n%s", res.FirstErr(), b.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for !strings.Contains(b.Output(), "the file system accepts writes again") {
		if time.Now().After(deadline) {
			t.Fatalf("no line says writes resumed:\n%s", b.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := scrape(t, base)["sluice_log_partitions_refusing_writes"]; got != 0 {
		t.Fatalf("sluice_log_partitions_refusing_writes = %v after writes resumed, want 0", got)
	}
}
