package verify

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

// Keys are the public keys an auditor trusts.
type Keys struct {
	// Log verifies signed tree heads (the hub's log key).
	Log ledger.Verifier
	// Anchor verifies anchor blocks (the anchoring node's key, a key of its
	// own: a block signed by the Log key is not accepted unless that key is
	// listed in Retired).
	Anchor ledger.Verifier
	// Retired are earlier anchoring keys (for gxhub: the tree-head key, which
	// signed the embedded blocks before anchoring got its own key). A chain
	// may begin with blocks signed by them, but no block after the first one
	// signed by Anchor may be; a single block ([Block], a receipt's anchor)
	// must be signed by Anchor.
	Retired []ledger.Verifier
}

// Block checks one anchor block on its own: its hash is SM3 of its signed
// bytes, its signature verifies with keys.Anchor, and its head's signature
// with keys.Log.
func Block(keys Keys, a ledger.Anchor) error {
	return block(keys, keys.Anchor, a)
}

func block(keys Keys, anchorKey ledger.Verifier, a ledger.Anchor) error {
	if keys.Log == nil || anchorKey == nil {
		return fmt.Errorf("%w: anchor verification needs the log and the anchor key", ledger.ErrInvalid)
	}
	msg, err := a.SignedBytes()
	if err != nil {
		return &ledger.ChainError{Height: a.Height, Reason: "block cannot be encoded", Err: err}
	}
	if !bytes.Equal(sm3hash.Sum(msg), a.Hash) {
		return &ledger.ChainError{Height: a.Height, Reason: "block hash does not match its contents"}
	}
	if a.KeyID != anchorKey.KeyID() {
		return &ledger.ChainError{Height: a.Height, Reason: fmt.Sprintf("block is signed by key %q, the verifier holds the anchor key %q", a.KeyID, anchorKey.KeyID())}
	}
	if err := anchorKey.Verify(msg, a.Signature); err != nil {
		return &ledger.ChainError{Height: a.Height, Reason: "block signature", Err: err}
	}
	if err := Head(keys.Log, a.Head); err != nil {
		return &ledger.ChainError{Height: a.Height, Reason: "anchored head", Err: err}
	}
	return nil
}

// AnchorChain checks a chain of anchor blocks starting at height 1: each
// block on its own ([Block]), heights consecutive, each PrevHash equal to the
// previous block's Hash (empty for height 1), one log throughout, and each
// anchored head consistent with the previous one by the block's own
// consistency proof (a same-size, different-root pair is a fork).
func AnchorChain(keys Keys, blocks []ledger.Anchor) error {
	return AnchorChainFrom(keys, nil, blocks)
}

// AnchorChainFrom is [AnchorChain] for a chain segment continuing from a
// block the caller already trusts (verified earlier); trusted nil means the
// segment must start at height 1.
func AnchorChainFrom(keys Keys, trusted *ledger.Anchor, blocks []ledger.Anchor) error {
	prev := trusted
	current := trusted != nil && keys.Anchor != nil && trusted.KeyID == keys.Anchor.KeyID()
	for i := range blocks {
		b := blocks[i]
		key := keys.Anchor
		if keys.Anchor == nil || b.KeyID != keys.Anchor.KeyID() {
			for _, r := range keys.Retired {
				if r != nil && r.KeyID() == b.KeyID && !current {
					key = r
				}
			}
		}
		if err := block(keys, key, b); err != nil {
			return err
		}
		current = current || key == keys.Anchor
		if prev == nil {
			if b.Height != 1 {
				return &ledger.ChainError{Height: b.Height, Reason: "chain does not start at height 1 and no trusted block was given"}
			}
			if len(b.PrevHash) != 0 {
				return &ledger.ChainError{Height: b.Height, Reason: "first block has a previous-block hash"}
			}
			if len(b.Consistency) != 0 {
				return &ledger.ChainError{Height: b.Height, Reason: "first block carries a consistency proof"}
			}
		} else {
			if b.Height != prev.Height+1 {
				return &ledger.ChainError{Height: b.Height, Reason: fmt.Sprintf("height follows %d: a block was removed, inserted or reordered", prev.Height)}
			}
			if !bytes.Equal(b.PrevHash, prev.Hash) {
				return &ledger.ChainError{Height: b.Height, Reason: "previous-block hash does not match block " + fmt.Sprint(prev.Height)}
			}
			if err := consistency(prev.Head, b.Head, b.Consistency); err != nil {
				var fork *ledger.ForkError
				if errors.As(err, &fork) {
					return err
				}
				return &ledger.ChainError{Height: b.Height, Reason: "anchored head is not consistent with the previous one", Err: err}
			}
		}
		prev = &blocks[i]
	}
	return nil
}

// Receipt is what a hub hands an auditor for one record: the record's leaf,
// its inclusion proof in Head, and optionally the anchor that covers it with
// the consistency proof from Head to the anchored head.
type Receipt struct {
	// Index is the record's leaf index.
	Index uint64
	// Leaf is the record's canonical encoding.
	Leaf []byte
	// Proof is the inclusion proof of Leaf in Head.
	Proof [][]byte
	// Head is a signed tree head covering the record.
	Head ledger.SignedTreeHead
	// Anchor, if set, is an anchor block whose head extends Head.
	Anchor *ledger.Anchor
	// AnchorProof is the consistency proof from Head to Anchor.Head (empty
	// when they are the same head).
	AnchorProof [][]byte
}

// VerifyReceipt checks r: the leaf decodes as a record, is included in the
// signed head, and — if an anchor is given — the anchor block verifies and
// its head is consistent with (extends) the receipt's head. It returns the
// decoded record.
func VerifyReceipt(keys Keys, r Receipt) (ledger.Record, error) {
	var rec ledger.Record
	if err := rec.UnmarshalBinary(r.Leaf); err != nil {
		return ledger.Record{}, &ledger.ProofError{Kind: "leaf", Index: r.Index, Size: r.Head.Size, Err: err}
	}
	if err := Inclusion(keys.Log, r.Head, r.Index, r.Leaf, r.Proof); err != nil {
		return ledger.Record{}, err
	}
	if r.Anchor == nil {
		return rec, nil
	}
	if err := Block(keys, *r.Anchor); err != nil {
		return ledger.Record{}, err
	}
	if err := consistency(r.Head, r.Anchor.Head, r.AnchorProof); err != nil {
		return ledger.Record{}, err
	}
	return rec, nil
}
