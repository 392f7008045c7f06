// Package memory is an in-memory [ledger.Storage]: a complete, concurrency-
// safe implementation used by unit tests, benchmarks and development
// servers, and the reference that ledgertest.RunStorage is checked against.
// Nothing survives the process.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/gxhub/gxhub/ledger"
)

// Storage is an in-memory [ledger.Storage]. The zero value is not usable;
// call [New].
type Storage struct {
	mu      sync.RWMutex
	leaves  [][]byte
	levels  [][]byte // levels[l] holds the node hashes of level l, concatenated
	hashLen int
	heads   map[uint64]ledger.SignedTreeHead
	maxHead uint64
	hasHead bool
	anchors []ledger.Anchor
	bySize  map[uint64]int
}

var _ ledger.Storage = (*Storage)(nil)

// New returns an empty Storage.
func New() *Storage {
	return &Storage{heads: map[uint64]ledger.SignedTreeHead{}, bySize: map[uint64]int{}}
}

// AppendLeaves implements [ledger.LeafStorage].
func (s *Storage) AppendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(leaves) == 0 && len(nodes) != 0 {
		return fmt.Errorf("%w: %d nodes without leaves", ledger.ErrInvalid, len(nodes))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if start != uint64(len(s.leaves)) {
		return fmt.Errorf("%w: append at %d but the log has %d leaves", ledger.ErrConflict, start, len(s.leaves))
	}
	// Check everything before changing anything (atomicity).
	hashLen := s.hashLen
	next := make(map[uint8]uint64)
	for _, n := range nodes {
		if hashLen == 0 {
			hashLen = len(n.Hash)
		}
		if len(n.Hash) != hashLen || hashLen == 0 {
			return fmt.Errorf("%w: node %v hash is %d bytes, want %d", ledger.ErrInvalid, n.ID, len(n.Hash), hashLen)
		}
		have := s.count(n.ID.Level)
		want, ok := next[n.ID.Level]
		if !ok {
			want = have
		}
		switch {
		case n.ID.Index < have:
			if !bytes.Equal(s.node(n.ID), n.Hash) {
				return fmt.Errorf("%w: node %v is stored with a different hash", ledger.ErrConflict, n.ID)
			}
		case n.ID.Index == want:
			next[n.ID.Level] = want + 1
		default:
			return fmt.Errorf("%w: node %v leaves a gap (level has %d nodes); nodes must be written in order", ledger.ErrInvalid, n.ID, want)
		}
	}
	s.hashLen = hashLen
	for _, n := range nodes {
		l := int(n.ID.Level)
		for len(s.levels) <= l {
			s.levels = append(s.levels, nil)
		}
		if n.ID.Index == s.count(n.ID.Level) {
			s.levels[l] = append(s.levels[l], n.Hash...)
		}
	}
	for _, leaf := range leaves {
		s.leaves = append(s.leaves, bytes.Clone(leaf))
	}
	return nil
}

func (s *Storage) count(level uint8) uint64 {
	if s.hashLen == 0 || int(level) >= len(s.levels) {
		return 0
	}
	return uint64(len(s.levels[level]) / s.hashLen)
}

func (s *Storage) node(id ledger.NodeID) []byte {
	off := id.Index * uint64(s.hashLen)
	return s.levels[id.Level][off : off+uint64(s.hashLen)]
}

// Size implements [ledger.LeafStorage].
func (s *Storage) Size(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return uint64(len(s.leaves)), nil
}

// ReadLeaves implements [ledger.LeafStorage].
func (s *Storage) ReadLeaves(ctx context.Context, start, count uint64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := uint64(len(s.leaves))
	if start > n || count > n-start {
		return nil, fmt.Errorf("%w: leaves [%d, %d+%d) beyond size %d", ledger.ErrNotFound, start, start, count, n)
	}
	out := make([][]byte, count)
	for i := range out {
		out[i] = bytes.Clone(s.leaves[start+uint64(i)])
	}
	return out, nil
}

// ReadNodes implements [ledger.LeafStorage].
func (s *Storage) ReadNodes(ctx context.Context, ids []ledger.NodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Index >= s.count(id.Level) {
			return nil, fmt.Errorf("%w: tree node %v", ledger.ErrNotFound, id)
		}
		out[i] = bytes.Clone(s.node(id))
	}
	return out, nil
}

// PutHead implements [ledger.HeadStorage].
func (s *Storage) PutHead(ctx context.Context, h ledger.SignedTreeHead) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.heads[h.Size]; ok {
		if equalHeads(old, h) {
			return nil
		}
		return fmt.Errorf("%w: a different tree head is stored for size %d", ledger.ErrConflict, h.Size)
	}
	s.heads[h.Size] = cloneHead(h)
	if !s.hasHead || h.Size > s.maxHead {
		s.maxHead, s.hasHead = h.Size, true
	}
	return nil
}

// GetHead implements [ledger.HeadStorage].
func (s *Storage) GetHead(ctx context.Context, size uint64) (ledger.SignedTreeHead, error) {
	if err := ctx.Err(); err != nil {
		return ledger.SignedTreeHead{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.heads[size]
	if !ok {
		return ledger.SignedTreeHead{}, fmt.Errorf("%w: no tree head for size %d", ledger.ErrNotFound, size)
	}
	return cloneHead(h), nil
}

// LatestHead implements [ledger.HeadStorage].
func (s *Storage) LatestHead(ctx context.Context) (ledger.SignedTreeHead, error) {
	if err := ctx.Err(); err != nil {
		return ledger.SignedTreeHead{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.hasHead {
		return ledger.SignedTreeHead{}, fmt.Errorf("%w: no tree head stored yet", ledger.ErrNotFound)
	}
	return cloneHead(s.heads[s.maxHead]), nil
}

// PutAnchor implements [ledger.AnchorStorage].
func (s *Storage) PutAnchor(ctx context.Context, a ledger.Anchor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := uint64(len(s.anchors)) + 1; a.Height != want {
		return fmt.Errorf("%w: anchor height %d, next height is %d", ledger.ErrConflict, a.Height, want)
	}
	if _, ok := s.bySize[a.Head.Size]; ok {
		return fmt.Errorf("%w: a block already anchors tree size %d", ledger.ErrConflict, a.Head.Size)
	}
	s.anchors = append(s.anchors, cloneAnchor(a))
	s.bySize[a.Head.Size] = len(s.anchors) - 1
	return nil
}

// GetAnchor implements [ledger.AnchorStorage].
func (s *Storage) GetAnchor(ctx context.Context, height uint64) (ledger.Anchor, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Anchor{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if height == 0 || height > uint64(len(s.anchors)) {
		return ledger.Anchor{}, fmt.Errorf("%w: no anchor block at height %d", ledger.ErrNotFound, height)
	}
	return cloneAnchor(s.anchors[height-1]), nil
}

// AnchorBySize implements [ledger.AnchorStorage].
func (s *Storage) AnchorBySize(ctx context.Context, treeSize uint64) (ledger.Anchor, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Anchor{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.bySize[treeSize]
	if !ok {
		return ledger.Anchor{}, fmt.Errorf("%w: no anchor block for tree size %d", ledger.ErrNotFound, treeSize)
	}
	return cloneAnchor(s.anchors[i]), nil
}

// LatestAnchor implements [ledger.AnchorStorage].
func (s *Storage) LatestAnchor(ctx context.Context) (ledger.Anchor, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Anchor{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.anchors) == 0 {
		return ledger.Anchor{}, fmt.Errorf("%w: no anchor block yet", ledger.ErrNotFound)
	}
	return cloneAnchor(s.anchors[len(s.anchors)-1]), nil
}

func equalHeads(a, b ledger.SignedTreeHead) bool {
	return ledger.SameHead(a.TreeHead, b.TreeHead) && a.Time.Equal(b.Time) &&
		a.KeyID == b.KeyID && bytes.Equal(a.Signature, b.Signature)
}

func cloneHead(h ledger.SignedTreeHead) ledger.SignedTreeHead {
	h.Root = bytes.Clone(h.Root)
	h.Signature = bytes.Clone(h.Signature)
	return h
}

func cloneAnchor(a ledger.Anchor) ledger.Anchor {
	a.PrevHash = bytes.Clone(a.PrevHash)
	a.Head = cloneHead(a.Head)
	a.Consistency = slices.Clone(a.Consistency)
	for i := range a.Consistency {
		a.Consistency[i] = bytes.Clone(a.Consistency[i])
	}
	a.Signature = bytes.Clone(a.Signature)
	a.Hash = bytes.Clone(a.Hash)
	return a
}
