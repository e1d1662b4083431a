package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/fsutil"
	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/vfs"
)

const (
	// cleanShutdownFile marks a log dir whose logs were all closed cleanly.
	cleanShutdownFile = ".sluice_cleanshutdown"
	// recoveryPointFile is Kafka's checkpoint of the offset below which
	// each partition is known to be on disk, in Kafka's text format.
	recoveryPointFile = "recovery-point-offset-checkpoint"
	// logStartFile is Kafka's checkpoint of log start offsets that
	// DeleteRecords moved inside a segment.
	logStartFile = "log-start-offset-checkpoint"
	deleteSuffix = "-delete"
	// MetadataDir holds the metadata quorum's log in the first log dir,
	// where Kafka keeps __cluster_metadata-0.
	MetadataDir = "__cluster_metadata-0"
	// partitionMetadataFile is Kafka's record of the topic id a partition
	// directory belongs to.
	partitionMetadataFile = "partition.metadata"
)

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) dirName() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

// parseDirName splits "<topic>-<partition>"; topic names may contain '-'.
func parseDirName(name string) (TP, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return TP{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return TP{}, false
	}
	return TP{name[:i], int32(p)}, true
}

// Config is what a Manager needs from the broker.
type Config struct {
	Dirs   []string // the log dirs
	NodeID int32    // this broker
	// Image returns the current metadata image. Leadership is checked
	// against it at request time, never against an image the Manager
	// reconciled earlier.
	Image  func() *metadata.Image
	Logger *slog.Logger
	// AlterPartition proposes an ISR change of a partition led here
	// (metadata.Store.AlterPartition) and returns the partition after
	// it. Nil on a broker that never replicates: ISR changes are then
	// dropped.
	AlterPartition func(ctx context.Context, r metadata.AlterPartitionRecord) (metadata.Partition, error)
	// BrokerEpoch returns this broker's current registration epoch,
	// which every AlterPartition carries. Nil reads as 0.
	BrokerEpoch func() uint64
	// LagTimeMax is replica.lag.time.max.ms: a follower not caught up
	// within it leaves the ISR. Zero is Kafka's default, 30 s.
	LagTimeMax time.Duration
	// ReplicaSelector is replica.selector.class: RackAwareReplicaSelector
	// sends consumers to an in-sync replica in their rack
	// (read_replica.go); empty keeps them on the leader.
	ReplicaSelector string
	// Files bounds the segment files open at once, shared by every
	// partition (log.open.files.max); nil is the log package's default.
	Files *log.FileCache
}

// Manager owns the partitions hosted on this broker and their directories.
type Manager struct {
	dirs   []string
	node   int32
	image  func() *metadata.Image
	logger *slog.Logger
	files  *log.FileCache // the broker's segment file cache
	// alter, brokerEpoch and isr serve the leader side of replication
	// (manager_leader.go).
	alter       func(ctx context.Context, r metadata.AlterPartitionRecord) (metadata.Partition, error)
	brokerEpoch func() uint64
	isr         *isrEnv
	// selector is replica.selector.class (read_replica.go).
	selector string

	mu         sync.RWMutex // guards partitions and located
	partitions map[TP]*Partition
	located    map[TP]string // partition directories found on disk at start
	clean      map[string]bool
	recovery   map[string]map[TP]int64 // per dir
	logStart   map[string]map[TP]int64 // per dir
	// highWatermarks is each dir's high watermark checkpoint as read at
	// start (manager_highwatermark.go).
	highWatermarks map[string]map[TP]int64
	// fetchers copy the partitions led elsewhere; nil without
	// replication. Set before the first Reconcile (SetFetchers).
	fetchers *Fetchers
}

// NewManager takes ownership of the log dirs: it notes whether the last
// shutdown was clean, reads recovery points, removes the clean-shutdown
// marker (so a crash from now on is seen as one), and finishes deletions a
// crash interrupted.
func NewManager(cfg Config) (*Manager, error) {
	logger := cfg.Logger
	brokerEpoch := cfg.BrokerEpoch
	if brokerEpoch == nil {
		brokerEpoch = func() uint64 { return 0 }
	}
	m := &Manager{dirs: cfg.Dirs, node: cfg.NodeID, image: cfg.Image, logger: logger, files: cfg.Files,
		alter: cfg.AlterPartition, brokerEpoch: brokerEpoch, isr: newISREnv(cfg.LagTimeMax), selector: cfg.ReplicaSelector,
		partitions: map[TP]*Partition{}, located: map[TP]string{},
		clean: map[string]bool{}, recovery: map[string]map[TP]int64{}, logStart: map[string]map[TP]int64{},
		highWatermarks: map[string]map[TP]int64{}}
	for _, dir := range m.dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create log dir %s: %w", dir, err)
		}
		marker := filepath.Join(dir, cleanShutdownFile)
		_, err := os.Stat(marker)
		m.clean[dir] = err == nil
		if m.recovery[dir], err = readCheckpoint(filepath.Join(dir, recoveryPointFile)); err != nil {
			logger.Warn("ignoring unreadable recovery point checkpoint; every segment will be scanned", "dir", dir, "err", err)
		}
		if m.logStart[dir], err = readCheckpoint(filepath.Join(dir, logStartFile)); err != nil {
			logger.Warn("ignoring unreadable log start offset checkpoint", "dir", dir, "err", err)
		}
		m.highWatermarks[dir] = m.readHighWatermarks(dir)
		if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove clean shutdown marker: %w", err)
		}
		if err := m.scanDir(dir); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// scanDir records the partition directories in dir and removes the
// leftovers of deletions.
func (m *Manager) scanDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list log dir %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasSuffix(e.Name(), deleteSuffix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
			continue
		}
		if e.Name() == MetadataDir {
			continue // the quorum's log, not a partition
		}
		if tp, ok := parseDirName(e.Name()); ok {
			m.located[tp] = dir
		}
	}
	return nil
}

// Get returns a hosted partition.
func (m *Manager) Get(topic string, partition int32) (*Partition, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.partitions[TP{topic, partition}]
	return p, ok
}

// Leader returns the partition if this broker leads it in the current
// metadata image. A partition led elsewhere, leaderless, or led here but
// still opening gets NOT_LEADER_OR_FOLLOWER, which tells clients to
// refresh their metadata and retry. The partition learns the image's
// assignment here too (setAssignment), so a request never meets a leader
// epoch older than the image it was checked against.
func (m *Manager) Leader(topic string, partition int32) (*Partition, error) {
	t, ok := m.image().Topics[topic]
	if !ok || partition < 0 || partition >= t.Partitions {
		return nil, kerr.UnknownTopicOrPartition
	}
	a := t.Assignments[partition]
	if a.Leader != m.node {
		return nil, fmt.Errorf("%w: partition %s-%d is led by broker %d", kerr.NotLeaderForPartition, topic, partition, a.Leader)
	}
	p, ok := m.Get(topic, partition)
	if !ok || p.TopicID != t.ID {
		// Not open yet, or still the partition of a deleted topic of the
		// same name that the next reconcile removes.
		return nil, fmt.Errorf("%w: partition %s-%d is still opening", kerr.NotLeaderForPartition, topic, partition)
	}
	p.setAssignment(a, m.node, time.Now())
	p.attach(m.isr)
	return p, nil
}

// Len returns the number of hosted partitions.
func (m *Manager) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.partitions)
}

// Each calls fn for every hosted partition, in no order.
func (m *Manager) Each(fn func(*Partition)) {
	m.mu.RLock()
	ps := make([]*Partition, 0, len(m.partitions))
	for _, p := range m.partitions {
		ps = append(ps, p)
	}
	m.mu.RUnlock()
	for _, p := range ps {
		fn(p)
	}
}

// Reconcile makes the hosted partitions match the image: it opens (and
// recovers) the partitions this node is a replica of, deletes those of
// deleted topics and those reassigned away (closes them only, in an image
// older than this broker's registration: registeredIn). Directories found
// on disk for topics the image does not know are left alone, logged once
// at start. Every hosted partition takes the image's assignment
// (setAssignment) and leads or follows as it says: a partition led
// elsewhere by a live broker is fetched from it (SetFetchers), one led
// here or by nobody live is not, and fetching stops before the partition
// takes a new role or closes. The broker calls Reconcile on every image
// change.
func (m *Manager) Reconcile(im *metadata.Image, node int32, logConfig func(*metadata.Topic) log.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for tp, p := range m.partitions {
		t, ok := im.Topics[tp.Topic]
		switch {
		case !ok || tp.Partition >= t.Partitions || t.ID != p.TopicID:
			m.unfollow(tp)
			delete(m.partitions, tp)
			errs = append(errs, m.remove(p))
		case !holdsData(t, tp.Partition, node):
			m.unfollow(tp)
			delete(m.partitions, tp)
			if !m.registeredIn(im, node) {
				m.logger.Warn("closing partition not assigned here in a metadata image older than this broker's registration", "partition", tp.dirName())
				errs = append(errs, p.close())
				break
			}
			// A replica reassigned away deletes its log, as Kafka's
			// StopReplica with deletePartition does; the leader's
			// follower states drop it with the next assignment.
			m.logger.Info("deleting partition no longer assigned here", "partition", tp.dirName())
			errs = append(errs, m.remove(p))
		}
	}
	now := time.Now()
	for _, t := range im.SortedTopics() {
		cfg := logConfig(t)
		for i := range t.Partitions {
			tp := TP{t.Name, i}
			a := t.Assignments[i]
			if p, ok := m.partitions[tp]; ok {
				p.log.SetConfig(cfg)
				m.assign(im, p, a, node, cfg, now)
				continue
			}
			if !holdsData(t, i, node) {
				continue
			}
			p, err := m.open(tp, t.ID, cfg)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.partitions[tp] = p
			m.assign(im, p, a, node, cfg, now)
		}
	}
	return errors.Join(errs...)
}

// assign gives a hosted partition the image's assignment and role: a
// partition that stops following (it leads here now, or its leader is
// gone) leaves its fetcher before it takes the assignment, as Kafka's
// makeLeader removes the fetcher first; a partition led by another live
// broker is then fetched from it (follow), in a new leader epoch from its
// log end with its last epoch, so the leader finds where the logs
// diverge. Between the new assignment and follow, a fetch of the old
// epoch may still answer; the partition refuses its records
// (appendAsFollower checks the epoch).
func (m *Manager) assign(im *metadata.Image, p *Partition, a metadata.Partition, node int32, cfg log.Config, now time.Time) {
	fetch := m.fetchers != nil && a.Leader != node && leaderLive(im, a.Leader)
	if !fetch {
		m.unfollow(TP{p.Topic, p.Index})
	}
	p.setAssignment(a, node, now)
	if fetch {
		m.fetchers.follow(p, a.Leader, a.LeaderEpoch, cfg.FlushMessages <= 1)
	}
}

// unfollow stops fetching tp, if the Manager has fetchers.
func (m *Manager) unfollow(tp TP) {
	if m.fetchers != nil {
		m.fetchers.unfollow(tp)
	}
}

// leaderLive reports whether leader is a registered, unfenced broker:
// a partition led by nobody, or by a broker the image fenced, is not
// fetched until an image names a live leader.
func leaderLive(im *metadata.Image, leader int32) bool {
	if leader == metadata.NoLeader {
		return false
	}
	b, ok := im.Brokers[leader]
	return ok && !b.Fenced
}

// SetFetchers gives the Manager the fetchers that copy the partitions it
// follows from their leaders. Call it before the first Reconcile; the
// Manager closes them before its logs. Without fetchers (a lone broker,
// tests) every partition keeps its role in the image but nothing is
// fetched.
func (m *Manager) SetFetchers(f *Fetchers) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetchers = f
}

// registeredIn reports whether im holds this process's current broker
// registration. Its record's log index is the broker epoch, so such an
// image is newer than every record committed before this process
// started: a partition it no longer assigns here was really moved away.
// An older image, seen while the metadata catches up after a restart,
// may predate a move back here, so its word is not enough to delete a
// log that may be the only copy.
func (m *Manager) registeredIn(im *metadata.Image, node int32) bool {
	epoch := m.brokerEpoch()
	b, ok := im.Brokers[node]
	return epoch != 0 && ok && b.Epoch == epoch
}

// holdsData reports whether node keeps partition p's records: it is one
// of its replicas, leading or following.
func holdsData(t *metadata.Topic, p, node int32) bool {
	return t.Hosts(node, p)
}

// open opens or creates a partition's log and rebuilds its producer state.
// A directory left by an earlier topic of the same name (its
// partition.metadata names another topic id) is deleted first.
func (m *Manager) open(tp TP, id metadata.TopicID, cfg log.Config) (*Partition, error) {
	dir, ok := m.located[tp]
	if !ok {
		dir = m.leastLoadedDir()
	}
	path := filepath.Join(dir, tp.dirName())
	stale, err := checkTopicID(path, id)
	if err != nil {
		return nil, fmt.Errorf("open partition %s: %w", tp.dirName(), err)
	}
	if stale {
		m.logger.Warn("deleting the partition of an earlier topic with the same name", "partition", tp.dirName())
		if err := m.removeDir(tp, path); err != nil {
			return nil, err
		}
		ok = false
	}
	rp, known := m.recovery[dir][tp]
	if !known || stale {
		rp = -1
	}
	l, err := log.Open(path, cfg, log.OpenOptions{
		Clean: m.clean[dir] && ok, RecoveryPoint: rp, LogStartOffset: m.logStart[dir][tp], Logger: m.logger,
		LimitReads: true, ReadLimit: m.checkpointedHighWatermark(dir, tp, stale), Files: m.files,
	})
	if err != nil {
		return nil, fmt.Errorf("open partition %s: %w", tp.dirName(), err)
	}
	if err := writeTopicID(path, id); err != nil {
		l.Close()
		return nil, fmt.Errorf("open partition %s: %w", tp.dirName(), err)
	}
	m.located[tp] = dir
	p := newPartition(tp, id, l, vfs.Default, m.logger)
	if err := p.recoverState(); err != nil {
		l.Close()
		return nil, err
	}
	return p, nil
}

// leastLoadedDir picks the log dir with the fewest partitions, as Kafka does.
func (m *Manager) leastLoadedDir() string {
	count := map[string]int{}
	for _, d := range m.located {
		count[d]++
	}
	best := m.dirs[0]
	for _, d := range m.dirs[1:] {
		if count[d] < count[best] {
			best = d
		}
	}
	return best
}

// remove closes a partition and deletes its directory.
func (m *Manager) remove(p *Partition) error {
	p.close()
	return m.removeDir(TP{p.Topic, p.Index}, p.log.Dir())
}

// removeDir deletes a partition directory: a rename first, so a crash
// mid-delete never leaves a half-deleted partition that looks live.
func (m *Manager) removeDir(tp TP, dir string) error {
	gone := fmt.Sprintf("%s.%d%s", dir, time.Now().UnixNano(), deleteSuffix)
	delete(m.located, tp)
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("delete partition %s: %w", tp.dirName(), err)
	}
	if err := fsutil.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("delete partition %s: %w", tp.dirName(), err)
	}
	go os.RemoveAll(gone)
	return nil
}

// FlushDue runs flush.ms fsyncs for partitions with relaxed flushing.
func (m *Manager) FlushDue(now time.Time) {
	m.Each(func(p *Partition) {
		if err := p.log.FlushIfDue(now); err != nil {
			m.logger.Error("periodic flush", "partition", TP{p.Topic, p.Index}.dirName(), "err", err)
		}
	})
}

// Checkpoint writes each dir's recovery points, so the next unclean start
// scans only what came after them, log start offsets, so records
// deleted by DeleteRecords stay deleted, and high watermarks, so a
// restarted replica shows readers nothing past the last one it knew
// (manager_highwatermark.go). Leader epoch checkpoints whose last write
// failed are written again.
func (m *Manager) Checkpoint() error {
	points, starts, hws := map[string]map[TP]int64{}, map[string]map[TP]int64{}, map[string]map[TP]int64{}
	var errs []error
	m.mu.RLock()
	for tp, p := range m.partitions {
		errs = append(errs, p.epochs.flushIfDirty())
		dir := m.located[tp]
		if points[dir] == nil {
			points[dir], starts[dir], hws[dir] = map[TP]int64{}, map[TP]int64{}, map[TP]int64{}
		}
		points[dir][tp] = p.log.Durable()
		starts[dir][tp], _, _ = p.log.Offsets()
		hws[dir][tp] = p.HighWatermark()
	}
	m.mu.RUnlock()
	for _, dir := range m.dirs {
		errs = append(errs, writeCheckpoint(filepath.Join(dir, recoveryPointFile), points[dir]))
		errs = append(errs, writeCheckpoint(filepath.Join(dir, logStartFile), starts[dir]))
		errs = append(errs, writeHighWatermarks(dir, hws[dir]))
	}
	return errors.Join(errs...)
}

// CleanAll compacts every partition whose cleanup.policy contains compact
// and is due (Log.Clean decides), one at a time with the one cleaner.
func (m *Manager) CleanAll(c *log.Cleaner, now time.Time) {
	m.Each(func(p *Partition) {
		if _, err := c.Clean(p.log, now); err != nil && !errors.Is(err, log.ErrClosed) {
			m.logger.Error("compaction", "partition", TP{p.Topic, p.Index}.dirName(), "err", err)
		}
	})
}

// ApplyRetention runs every partition's retention check.
func (m *Manager) ApplyRetention(now time.Time) {
	m.Each(func(p *Partition) {
		if err := p.applyRetention(now); err != nil {
			m.logger.Error("retention", "partition", TP{p.Topic, p.Index}.dirName(), "err", err)
		}
	})
}

// Close closes every log, checkpoints, and marks the dirs clean when all
// of that worked.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.fetchers != nil {
		m.fetchers.Close() // no append may follow a log's close
	}
	var errs []error
	for _, p := range m.partitions {
		errs = append(errs, p.close())
	}
	m.mu.Unlock()
	errs = append(errs, m.Checkpoint())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, dir := range m.dirs {
		if err := fsutil.WriteFileSync(filepath.Join(dir, cleanShutdownFile), nil); err != nil {
			return fmt.Errorf("mark clean shutdown: %w", err)
		}
	}
	return nil
}

// readCheckpoint parses Kafka's offset checkpoint format: a version line
// (0), a count line, then "topic partition offset" lines.
func readCheckpoint(path string) (map[TP]int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[TP]int64{}, nil
	}
	if err != nil {
		return map[TP]int64{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return map[TP]int64{}, err
	}
	if len(lines) < 2 || lines[0] != "0" {
		return map[TP]int64{}, fmt.Errorf("%s: bad header", path)
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return map[TP]int64{}, fmt.Errorf("%s: count %q does not match %d entries", path, lines[1], len(lines)-2)
	}
	points := map[TP]int64{}
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) != 3 {
			return map[TP]int64{}, fmt.Errorf("%s: bad line %q", path, line)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return map[TP]int64{}, fmt.Errorf("%s: bad line %q", path, line)
		}
		points[TP{f[0], int32(p)}] = off
	}
	return points, nil
}

func writeCheckpoint(path string, points map[TP]int64) error {
	var b strings.Builder
	fmt.Fprintf(&b, "0\n%d\n", len(points))
	tps := make([]TP, 0, len(points))
	for tp := range points {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b TP) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, points[tp])
	}
	return fsutil.WriteFileSync(path, []byte(b.String()))
}

// checkTopicID reports whether the partition directory at path belongs to
// another topic id than id. A directory without the file (a fresh one, or
// one written by an earlier version) is taken as belonging to id.
func checkTopicID(path string, id metadata.TopicID) (stale bool, err error) {
	b, err := os.ReadFile(filepath.Join(path, partitionMetadataFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "topic_id: "); ok {
			return strings.TrimSpace(v) != id.String(), nil
		}
	}
	return false, fmt.Errorf("%s has no topic_id", partitionMetadataFile)
}

// writeTopicID writes Kafka's partition.metadata if it is missing.
func writeTopicID(path string, id metadata.TopicID) error {
	file := filepath.Join(path, partitionMetadataFile)
	if _, err := os.Stat(file); err == nil {
		return nil
	}
	return fsutil.WriteFileSync(file, []byte("version: 0\ntopic_id: "+id.String()+"\n"))
}
