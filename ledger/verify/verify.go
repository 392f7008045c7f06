// Package verify is the offline verifier of the audit ledger, used by the
// SDK and `gxctl audit verify`. Given only data a hub hands out — records,
// proofs, signed tree heads, anchor blocks — and the hub's SM2 public keys,
// it checks that a record is in the log, that two heads are consistent,
// that no two heads fork, and that an anchor chain is intact. It needs no
// network and no storage.
//
// Every failure wraps [ledger.ErrVerification]; proof failures are
// [*ledger.ProofError], forks [*ledger.ForkError], broken anchor chains
// [*ledger.ChainError].
package verify

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

var hasher = sm3hash.Default

// Head checks sth's signature with v (the hub's log key): the key ids must
// match and the SM2 signature must verify over sth's signed bytes.
func Head(v ledger.Verifier, sth ledger.SignedTreeHead) error {
	if v == nil {
		return fmt.Errorf("%w: no verification key given", ledger.ErrInvalid)
	}
	if sth.KeyID != v.KeyID() {
		return &ledger.ProofError{Kind: "signature", Size: sth.Size,
			Err: fmt.Errorf("head is signed by key %q, the verifier holds key %q; fetch the right public key", sth.KeyID, v.KeyID())}
	}
	msg, err := sth.SignedBytes()
	if err != nil {
		return &ledger.ProofError{Kind: "signature", Size: sth.Size, Err: err}
	}
	if err := v.Verify(msg, sth.Signature); err != nil {
		return &ledger.ProofError{Kind: "signature", Size: sth.Size, Err: err}
	}
	return nil
}

// Inclusion checks that leaf (a record's canonical encoding) is the leaf at
// index of the tree described by sth, using the audit path p, and that sth
// is signed by v.
func Inclusion(v ledger.Verifier, sth ledger.SignedTreeHead, index uint64, leaf []byte, p [][]byte) error {
	if err := Head(v, sth); err != nil {
		return err
	}
	return inclusion(sth.TreeHead, index, leaf, p)
}

func inclusion(h ledger.TreeHead, index uint64, leaf []byte, p [][]byte) error {
	if index >= h.Size {
		return &ledger.ProofError{Kind: "inclusion", Index: index, Size: h.Size, Err: errors.New("index is not below the tree size")}
	}
	if err := proof.VerifyInclusion(hasher, index, h.Size, hasher.HashLeaf(leaf), p, h.Root); err != nil {
		return &ledger.ProofError{Kind: "inclusion", Index: index, Size: h.Size, Err: err}
	}
	return nil
}

// Record is [Inclusion] for a decoded record: it re-encodes r canonically
// and checks that encoding.
func Record(v ledger.Verifier, sth ledger.SignedTreeHead, index uint64, r ledger.Record, p [][]byte) error {
	leaf, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	return Inclusion(v, sth, index, leaf, p)
}

// Consistency checks that newer extends older: both signed by v, same log,
// older.Size <= newer.Size, and p proves the older tree is a prefix of the
// newer one. Two heads of the same size with different roots give a
// [*ledger.ForkError].
func Consistency(v ledger.Verifier, older, newer ledger.SignedTreeHead, p [][]byte) error {
	if err := Head(v, older); err != nil {
		return err
	}
	if err := Head(v, newer); err != nil {
		return err
	}
	return consistency(older, newer, p)
}

func consistency(older, newer ledger.SignedTreeHead, p [][]byte) error {
	if older.LogID != newer.LogID {
		return fmt.Errorf("%w: heads of different logs %q and %q", ledger.ErrInvalid, older.LogID, newer.LogID)
	}
	if older.Size == newer.Size && !bytes.Equal(older.Root, newer.Root) {
		return &ledger.ForkError{A: older, B: newer}
	}
	if older.Size > newer.Size {
		return &ledger.ProofError{Kind: "consistency", Size: newer.Size, Err: fmt.Errorf("the later head has %d leaves, fewer than the earlier head's %d", newer.Size, older.Size)}
	}
	if err := proof.VerifyConsistency(hasher, older.Size, newer.Size, p, older.Root, newer.Root); err != nil {
		return &ledger.ProofError{Kind: "consistency", Index: older.Size, Size: newer.Size, Err: err}
	}
	return nil
}

// Fork checks two signed heads of one log for a fork: if both carry valid
// signatures by v and have the same size but different roots it returns a
// [*ledger.ForkError] holding both (the evidence). It returns nil for heads
// of different sizes (use [Consistency] for those).
func Fork(v ledger.Verifier, a, b ledger.SignedTreeHead) error {
	if err := Head(v, a); err != nil {
		return err
	}
	if err := Head(v, b); err != nil {
		return err
	}
	if a.LogID == b.LogID && a.Size == b.Size && !bytes.Equal(a.Root, b.Root) {
		return &ledger.ForkError{A: a, B: b}
	}
	return nil
}

// Heads checks a set of signed heads collected by an auditor (from the hub,
// from other departments, from anchors): every signature must verify and no
// two heads of one log and size may differ.
func Heads(v ledger.Verifier, heads []ledger.SignedTreeHead) error {
	type key struct {
		log  string
		size uint64
	}
	seen := map[key]ledger.SignedTreeHead{}
	for _, h := range heads {
		if err := Head(v, h); err != nil {
			return err
		}
		k := key{h.LogID, h.Size}
		if prev, ok := seen[k]; ok && !bytes.Equal(prev.Root, h.Root) {
			return &ledger.ForkError{A: prev, B: h}
		}
		seen[k] = h
	}
	return nil
}

// Contents is a full audit: it recomputes the root of leaves (the whole log
// up to sth.Size, in order) and compares it with sth, whose signature must
// verify. Any altered, removed, added or reordered leaf fails.
func Contents(v ledger.Verifier, sth ledger.SignedTreeHead, leaves [][]byte) error {
	if err := Head(v, sth); err != nil {
		return err
	}
	if uint64(len(leaves)) != sth.Size {
		return &ledger.ProofError{Kind: "root", Size: sth.Size, Err: fmt.Errorf("got %d leaves for a head of %d", len(leaves), sth.Size)}
	}
	root := Root(leaves)
	if !bytes.Equal(root, sth.Root) {
		return &ledger.ProofError{Kind: "root", Size: sth.Size, Err: fmt.Errorf("recomputed root %x, head says %x", root, sth.Root)}
	}
	return nil
}

// Root returns the RFC 6962 SM3 tree root of leaves.
func Root(leaves [][]byte) []byte {
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, l := range leaves {
		_ = r.Append(hasher.HashLeaf(l), nil) // cannot fail for appends
	}
	if len(leaves) == 0 {
		return hasher.EmptyRoot()
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// HeadsConsistent is [Consistency] without the signature checks, for callers
// that verified (or cannot verify) the signatures separately, such as an
// anchorer checking a head against the previous anchored one.
func HeadsConsistent(older, newer ledger.SignedTreeHead, p [][]byte) error {
	return consistency(older, newer, p)
}
