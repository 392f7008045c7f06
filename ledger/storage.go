package ledger

import "context"

// NodeID addresses a node of the Merkle tree: Level 0 holds leaf hashes,
// and the node (l, i) covers leaves [i·2^l, (i+1)·2^l). Only perfect
// subtrees (whose leaves all exist) are stored. It is the same addressing as
// transparency-dev/merkle's compact.NodeID.
type NodeID struct {
	Level uint8
	Index uint64
}

// Node is a stored tree node hash.
type Node struct {
	ID   NodeID
	Hash []byte
}

// Storage is what a persistent back-end (the hub's SQLite or PostgreSQL
// Store, or ledger/memory) provides to one Merkle log and its embedded
// anchor chain. One Storage value holds exactly one log. Every
// implementation MUST pass ledgertest.RunStorage.
//
// All methods MUST be safe for concurrent use. Methods MUST return errors
// wrapping [ErrUnavailable] for transient back-end failures (the write then
// did not happen), [ErrNotFound] and [ErrConflict] as documented, and MUST
// honour ctx cancellation. Returned slices belong to the caller; stored
// values MUST NOT alias caller slices.
//
// Times (head and anchor times) MUST round-trip to the microsecond, the
// precision of PostgreSQL timestamps: signatures cover them. The log and the
// embedded anchorer produce microsecond-aligned times. Leaves are opaque
// bytes and MUST round-trip exactly.
type Storage interface {
	LeafStorage
	HeadStorage
	AnchorStorage
}

// LeafStorage stores the leaves and node hashes of the tree.
type LeafStorage interface {
	// AppendLeaves stores leaves at indices start, start+1, … together with
	// nodes (every tree node completed by these leaves, including their
	// level-0 leaf hashes), as ONE atomic, durable write: when it returns
	// nil all of it is durable (committed, fsynced per the back-end's
	// durability setting); when it returns an error none of it is visible.
	//
	// It MUST return [ErrConflict] without writing if start differs from
	// the current size (another writer appended), or if a node already
	// exists with a different hash. It MUST accept an empty leaves slice
	// only with an empty nodes slice (a no-op).
	AppendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []Node) error

	// Size returns the number of stored leaves. After AppendLeaves returned
	// nil, Size MUST reflect it (read-your-writes).
	Size(ctx context.Context) (uint64, error)

	// ReadLeaves returns the leaves at indices [start, start+count), in
	// order. It MUST return [ErrNotFound] if start+count exceeds Size.
	ReadLeaves(ctx context.Context, start, count uint64) ([][]byte, error)

	// ReadNodes returns the hashes of the given nodes, in the order given.
	// It MUST return [ErrNotFound] if any of them is not stored.
	ReadNodes(ctx context.Context, ids []NodeID) ([][]byte, error)
}

// HeadStorage stores signed tree heads.
type HeadStorage interface {
	// PutHead stores a signed tree head, keyed by its size. Storing a head
	// equal to the stored one of that size (same root, time, key and
	// signature) is a no-op; a different head for a size that has one MUST
	// fail with [ErrConflict] and leave the stored head unchanged.
	PutHead(ctx context.Context, h SignedTreeHead) error

	// GetHead returns the head stored for size, or [ErrNotFound].
	GetHead(ctx context.Context, size uint64) (SignedTreeHead, error)

	// LatestHead returns the stored head with the greatest size, or
	// [ErrNotFound] if none is stored.
	LatestHead(ctx context.Context) (SignedTreeHead, error)
}

// AnchorStorage stores the blocks of the embedded anchor chain.
type AnchorStorage interface {
	// PutAnchor stores a block. a.Height MUST be the latest stored height
	// plus one (1 for the first block); otherwise PutAnchor MUST fail with
	// [ErrConflict] without writing. The block's head size MUST be unique
	// (ErrConflict otherwise). Durable on return.
	PutAnchor(ctx context.Context, a Anchor) error

	// GetAnchor returns the block at height, or [ErrNotFound].
	GetAnchor(ctx context.Context, height uint64) (Anchor, error)

	// AnchorBySize returns the block whose head has treeSize leaves, or
	// [ErrNotFound].
	AnchorBySize(ctx context.Context, treeSize uint64) (Anchor, error)

	// LatestAnchor returns the block with the greatest height, or
	// [ErrNotFound] if none is stored.
	LatestAnchor(ctx context.Context) (Anchor, error)
}

// IntentStorage is a Storage that also keeps the hub's audit outbox (pending audit
// intents written in the same transaction as the business writes they record). The log
// appends an intent's record and marks the intent done in ONE atomic write, so that an
// intent is never appended twice, whatever crashes.
type IntentStorage interface {
	Storage
	// AppendIntentLeaves is AppendLeaves that, in the same atomic write, marks each
	// intent done at its leaf's index: intents[i], when non-zero, is the outbox sequence
	// number of the intent whose record is leaves[i]. It MUST fail with [ErrIntentDone],
	// writing nothing, when one of them is not pending (already appended, or unknown).
	AppendIntentLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []Node, intents []uint64) error
}
