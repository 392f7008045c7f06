package verify

import (
	"github.com/transparency-dev/merkle/compact"
)

// RootBuilder computes the RFC 6962 SM3 tree root of leaves added one at a time, in
// memory logarithmic in their number (a backup checks millions of stored leaves against
// a signed head without holding them).
type RootBuilder struct {
	rng *compact.Range
}

// NewRootBuilder starts an empty tree.
func NewRootBuilder() *RootBuilder {
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	return &RootBuilder{rng: rf.NewEmptyRange(0)}
}

// Add appends a leaf (a record's canonical encoding).
func (b *RootBuilder) Add(leaf []byte) {
	_ = b.rng.Append(hasher.HashLeaf(leaf), nil) // cannot fail for a range starting at 0
}

// Size is the number of leaves added.
func (b *RootBuilder) Size() uint64 { return b.rng.End() }

// Root is the tree root of the leaves added so far.
func (b *RootBuilder) Root() []byte {
	if b.rng.End() == 0 {
		return hasher.EmptyRoot()
	}
	root, _ := b.rng.GetRootHash(nil)
	return root
}
