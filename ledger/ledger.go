package ledger

import "context"

// Entry is a record as stored in the log, with its position.
type Entry struct {
	// Index is the leaf index, starting at 0.
	Index uint64
	// Leaf is the record's canonical encoding, as hashed into the tree.
	Leaf []byte
	// Record is Leaf decoded.
	Record Record
}

// Log is the append-only Merkle log of audit records (C2).
//
// The ledger/log package implements it over a [Storage].
type Log interface {
	// Append adds r to the log and returns its leaf index. It MUST return
	// only after the record is durable in storage; appends from concurrent
	// callers MAY be group-committed, in which case a failed write fails
	// every record of the batch and none is acknowledged. Errors: an
	// invalid record wraps [ErrInvalid]; a storage failure wraps
	// [ErrUnavailable] (nothing was written, the caller may retry);
	// ctx cancellation returns ctx.Err() wrapped (the record was then not
	// written, or MAY have been written if the batch was already in flight —
	// the error says which).
	Append(ctx context.Context, r Record) (uint64, error)

	// GetRecord returns the entry at index. It MUST return [ErrNotFound]
	// for an index at or beyond the committed size.
	GetRecord(ctx context.Context, index uint64) (Entry, error)

	// Head returns the latest signed tree head. Records appended since it
	// was signed are durable but not yet covered; they are covered by the
	// next head, published at the log's interval. It returns [ErrNotFound]
	// if no head has been signed yet.
	Head(ctx context.Context) (SignedTreeHead, error)

	// InclusionProof returns the RFC 6962 audit path for the leaf at index in
	// the tree of size treeSize (lowest level first). It MUST return
	// [ErrInvalid] unless index < treeSize, and [ErrNotFound] if treeSize is
	// beyond the committed size.
	InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error)

	// ConsistencyProof returns the RFC 6962 consistency proof between the
	// trees of size size1 and size2. It MUST return [ErrInvalid] unless
	// size1 <= size2, and [ErrNotFound] if size2 is beyond the committed
	// size. The proof for size1 == 0 or size1 == size2 is empty.
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error)
}

// Anchorer records signed tree heads on a permissioned ledger (C3). Two
// implementations exist: ledger/embedded (a single-node SM2-signed hash
// chain in the hub's Store, the default) and ledger/fabric. Both MUST pass
// ledgertest.RunAnchorer.
//
// Anchoring is batched and never on the request path: a background loop
// anchors the latest signed head at an interval.
type Anchorer interface {
	// Anchor records head as the next block. consistency is the RFC 6962
	// consistency proof from the head of the latest anchor (see Latest) to
	// head; it is empty when nothing is anchored yet or the sizes are equal.
	//
	// Implementations MUST:
	//   - refuse a head of another log than the chain's first one, with
	//     [ErrInvalid];
	//   - refuse a head smaller than the latest anchored one, and one whose
	//     consistency proof does not verify against the latest anchored
	//     head, with an error wrapping [ErrInconsistent];
	//   - refuse a head whose size equals the latest anchored size but whose
	//     root differs, with a [*ForkError];
	//   - return the existing anchor, unchanged, for a head equal (log, size,
	//     root) to the latest anchored one (idempotent retries);
	//   - return [ErrConflict] if another writer anchored first (the caller
	//     re-reads Latest, recomputes the proof and retries);
	//   - make the anchor durable before returning it;
	//   - return an Anchor whose Height and Head are set (Head equal to the
	//     anchored head); Hash/PrevHash/Signature/Consistency when the
	//     back-end keeps them, Ref to a back-end reference (e.g. a TxID).
	Anchor(ctx context.Context, head SignedTreeHead, consistency [][]byte) (Anchor, error)

	// Latest returns the anchor with the greatest height, or [ErrNotFound]
	// if nothing is anchored yet.
	Latest(ctx context.Context) (Anchor, error)

	// Get returns the anchor at height (starting at 1), or [ErrNotFound].
	Get(ctx context.Context, height uint64) (Anchor, error)

	// BySize returns the anchor whose head has exactly treeSize leaves, or
	// [ErrNotFound]. To link record i to an anchor, use any anchor whose
	// head size exceeds i (Latest, usually) and an inclusion proof at that
	// size.
	BySize(ctx context.Context, treeSize uint64) (Anchor, error)
}
