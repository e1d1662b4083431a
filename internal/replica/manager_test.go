package replica

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestManagerLeader: Leader answers from the current image, with the
// errors clients act on: UNKNOWN_TOPIC_OR_PARTITION for what does not
// exist, NOT_LEADER_OR_FOLLOWER (refresh metadata, retry) for what is led
// elsewhere, leaderless, or not open here yet.
func TestManagerLeader(t *testing.T) {
	c := newTestCluster(t)
	c.setTopic("here", 1, 2, testNode, 0)
	c.setTopic("elsewhere", 2, 1, 2, 0)
	c.setTopic("leaderless", 3, 1, -1, 0)
	c.reconcile()
	c.setTopic("opening", 4, 1, testNode, 0) // in the image, not reconciled
	for _, tc := range []struct {
		topic     string
		partition int32
		want      error
		message   string
	}{
		{"here", 0, nil, ""},
		{"here", 1, nil, ""},
		{"here", 2, kerr.UnknownTopicOrPartition, ""},
		{"here", -1, kerr.UnknownTopicOrPartition, ""},
		{"nosuch", 0, kerr.UnknownTopicOrPartition, ""},
		{"elsewhere", 0, kerr.NotLeaderForPartition, "partition elsewhere-0 is led by broker 2"},
		{"leaderless", 0, kerr.NotLeaderForPartition, "partition leaderless-0 is led by broker -1"},
		{"opening", 0, kerr.NotLeaderForPartition, "partition opening-0 is still opening"},
	} {
		p, err := c.m.Leader(tc.topic, tc.partition)
		switch {
		case tc.want == nil && (err != nil || p == nil || p.Topic != tc.topic || p.Index != tc.partition):
			t.Errorf("Leader(%s, %d) = %v, %v", tc.topic, tc.partition, p, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("Leader(%s, %d) error %v, want %v", tc.topic, tc.partition, err, tc.want)
		case tc.message != "" && !strings.Contains(err.Error(), tc.message):
			t.Errorf("Leader(%s, %d) error %q, want it to say %q", tc.topic, tc.partition, err, tc.message)
		}
	}
}

// TestManagerLeaderRecreatedTopic: a topic deleted and created again under
// the same name is not served from the old topic's log before the
// reconcile replaces it.
func TestManagerLeaderRecreatedTopic(t *testing.T) {
	c := newTestCluster(t)
	c.partition(0)
	c.setTopic("t", 9, 1, testNode, 0) // a new topic id, not reconciled
	if _, err := c.m.Leader("t", 0); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("Leader of a recreated topic before reconcile = %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	c.reconcile()
	if p, err := c.m.Leader("t", 0); err != nil || p.TopicID[0] != 9 {
		t.Errorf("Leader after reconcile = %v, %v", p, err)
	}
}

// TestManagerLogDirs: each dir with its absolute path, its file system's
// sizes, and its partitions' sizes.
func TestManagerLogDirs(t *testing.T) {
	c := newTestCluster(t)
	p := c.partition(0)
	appendDurable(t, p, 3)
	dirs := c.m.LogDirs()
	if len(dirs) != 1 {
		t.Fatalf("%d log dirs, want 1", len(dirs))
	}
	d := dirs[0]
	if !filepath.IsAbs(d.Path) || d.Path != c.m.dirs[0] {
		t.Errorf("path %q, want the absolute %q", d.Path, c.m.dirs[0])
	}
	if d.TotalBytes <= 0 || d.UsableBytes < 0 || d.UsableBytes > d.TotalBytes {
		t.Errorf("total %d, usable %d bytes", d.TotalBytes, d.UsableBytes)
	}
	if len(d.Partitions) != 1 || d.Partitions[0] != (PartitionSize{Topic: "t", Partition: 0, SizeBytes: p.Size()}) || p.Size() == 0 {
		t.Errorf("partitions %+v, want t-0 with %d bytes", d.Partitions, p.Size())
	}
}
