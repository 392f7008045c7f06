package verify

import (
	"fmt"

	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/ledger"
)

// Tree returns the RFC 6962 SM3 tree root of leaves (as [Root]) and, for each leaf, its
// audit path to that root (lowest level first), as [RootFromPath] expects. It serves small
// trees built in one go, such as the digests of one publish batch.
func Tree(leaves [][]byte) (root []byte, paths [][][]byte) {
	if len(leaves) == 0 {
		return hasher.EmptyRoot(), nil
	}
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		hashes[i] = hasher.HashLeaf(l)
	}
	return tree(hashes)
}

func tree(h [][]byte) ([]byte, [][][]byte) {
	if len(h) == 1 {
		return h[0], [][][]byte{{}}
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	lr, lp := tree(h[:k])
	rr, rp := tree(h[k:])
	for i := range lp {
		lp[i] = append(lp[i], rr)
	}
	for i := range rp {
		rp[i] = append(rp[i], lr)
	}
	return hasher.HashChildren(lr, rr), append(lp, rp...)
}

// RootFromPath returns the root that leaf, at index of a tree of size leaves, leads to along
// path. Compare it with the root the caller trusts.
func RootFromPath(index, size uint64, leaf []byte, path [][]byte) ([]byte, error) {
	if index >= size {
		return nil, &ledger.ProofError{Kind: "inclusion", Index: index, Size: size, Err: fmt.Errorf("index is not below the tree size")}
	}
	root, err := proof.RootFromInclusionProof(hasher, index, size, hasher.HashLeaf(leaf), path)
	if err != nil {
		return nil, &ledger.ProofError{Kind: "inclusion", Index: index, Size: size, Err: err}
	}
	return root, nil
}
