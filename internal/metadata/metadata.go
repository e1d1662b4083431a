// Package metadata holds the cluster metadata: topics, their ids,
// partition counts and config overrides. Handlers read an immutable Image;
// changes go through the Store, which persists them before publishing a
// new Image.
//
// On a single node the Store persists a snapshot file. The cluster issue
// replaces its storage with a replicated log of metadata records; the Image
// that handlers read stays the same.
package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// TopicID is Kafka's 16-byte topic UUID.
type TopicID [16]byte

// String is the URL-safe base64 form Kafka prints.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// MarshalText stores the id as Kafka prints it.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses Kafka's printed form.
func (id *TopicID) UnmarshalText(b []byte) error {
	n, err := base64.RawURLEncoding.Decode(id[:], b)
	if err != nil || n != len(id) {
		return fmt.Errorf("topic id %q is not 16 bytes of URL-safe base64", b)
	}
	return nil
}

// Topic is one topic in an Image. Images share Topics; never modify one.
type Topic struct {
	Name       string            `json:"name"`
	ID         TopicID           `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// Image is an immutable view of the metadata.
type Image struct {
	ClusterID string
	Topics    map[string]*Topic
	byID      map[TopicID]*Topic
}

// TopicByID looks a topic up by id.
func (im *Image) TopicByID(id TopicID) (*Topic, bool) {
	t, ok := im.byID[id]
	return t, ok
}

// SortedTopics returns the topics by name.
func (im *Image) SortedTopics() []*Topic {
	ts := slices.Collect(maps.Values(im.Topics))
	slices.SortFunc(ts, func(a, b *Topic) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return ts
}

// snapshot is the file format.
type snapshot struct {
	Version   int      `json:"version"`
	ClusterID string   `json:"clusterId"`
	Topics    []*Topic `json:"topics"`
}

// Store owns the metadata and its file.
type Store struct {
	path string

	mu    sync.Mutex // serialises changes; readers use image
	image atomic.Pointer[Image]
}

// Open loads the metadata file at path, creating a new cluster id if the
// file does not exist.
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		id := newID()
		snap := snapshot{Version: 1, ClusterID: base64.RawURLEncoding.EncodeToString(id[:])}
		if err := s.persist(&snap); err != nil {
			return nil, err
		}
		s.publish(&snap)
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("metadata file %s is corrupt: %w", path, err)
	}
	s.publish(&snap)
	return s, nil
}

// Image returns the current metadata.
func (s *Store) Image() *Image { return s.image.Load() }

func (s *Store) publish(snap *snapshot) {
	im := &Image{ClusterID: snap.ClusterID, Topics: map[string]*Topic{}, byID: map[TopicID]*Topic{}}
	for _, t := range snap.Topics {
		im.Topics[t.Name] = t
		im.byID[t.ID] = t
	}
	s.image.Store(im)
}

func (s *Store) persist(snap *snapshot) error {
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileSync(s.path, b); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

// change applies fn to a copy of the topic list, persists and publishes.
func (s *Store) change(fn func(topics map[string]*Topic) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.image.Load()
	topics := maps.Clone(cur.Topics)
	if err := fn(topics); err != nil {
		return err
	}
	snap := &snapshot{Version: 1, ClusterID: cur.ClusterID}
	for _, name := range slices.Sorted(maps.Keys(topics)) {
		snap.Topics = append(snap.Topics, topics[name])
	}
	if err := s.persist(snap); err != nil {
		return err
	}
	s.publish(snap)
	return nil
}

// CreateTopic adds a topic. It fails with TOPIC_ALREADY_EXISTS if the name
// is taken.
func (s *Store) CreateTopic(name string, partitions int32, configs map[string]string) (*Topic, error) {
	t := &Topic{Name: name, ID: newID(), Partitions: partitions, Configs: configs}
	err := s.change(func(topics map[string]*Topic) error {
		if _, ok := topics[name]; ok {
			return fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, name)
		}
		topics[name] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// DeleteTopic removes a topic.
func (s *Store) DeleteTopic(name string) error {
	return s.change(func(topics map[string]*Topic) error {
		if _, ok := topics[name]; !ok {
			return fmt.Errorf("%w: topic %q", kerr.UnknownTopicOrPartition, name)
		}
		delete(topics, name)
		return nil
	})
}

// SetConfigs replaces a topic's config overrides.
func (s *Store) SetConfigs(name string, configs map[string]string) error {
	return s.change(func(topics map[string]*Topic) error {
		t, ok := topics[name]
		if !ok {
			return fmt.Errorf("%w: topic %q", kerr.UnknownTopicOrPartition, name)
		}
		nt := *t
		nt.Configs = maps.Clone(configs)
		topics[name] = &nt
		return nil
	})
}

// SetPartitions grows a topic to count partitions.
func (s *Store) SetPartitions(name string, count int32) error {
	return s.change(func(topics map[string]*Topic) error {
		t, ok := topics[name]
		if !ok {
			return fmt.Errorf("%w: topic %q", kerr.UnknownTopicOrPartition, name)
		}
		if count <= t.Partitions {
			return fmt.Errorf("%w: topic %q has %d partitions, cannot set %d", kerr.InvalidPartitions, name, t.Partitions, count)
		}
		nt := *t
		nt.Partitions = count
		topics[name] = &nt
		return nil
	})
}

func newID() TopicID {
	var id TopicID
	for id == (TopicID{}) {
		rand.Read(id[:])
	}
	return id
}
