package gxanchor

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/testonly"
)

func TestHasherKnownAnswers(t *testing.T) {
	// SM3("") and SM3("abc") from GB/T 32905-2016 appendix A.
	require.Equal(t, "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b", hex.EncodeToString(Hasher.EmptyRoot()))
	require.Equal(t, HashSize, Hasher.Size())
	require.Equal(t, refLeaf([]byte("abc")), Hasher.HashLeaf([]byte("abc")))
	require.NotEqual(t, Hasher.HashLeaf([]byte("abc")), Hasher.EmptyRoot(), "the leaf prefix must change the hash")
}

// TestConsistencyAgainstReference checks, for every pair of sizes up to 33, that the
// library's tree with the SM3 hasher has the reference roots, that the reference proofs
// verify, and that a proof for one pair does not verify another.
func TestConsistencyAgainstReference(t *testing.T) {
	const n = 33
	d := leaves(n, "t")
	tree := testonly.New(Hasher)
	tree.AppendData(d...)
	for m := 0; m <= n; m++ {
		require.Equal(t, refMTH(d[:m]), tree.HashAt(uint64(m)), "root of size %d", m)
	}
	for m := 1; m <= n; m++ {
		for k := m; k <= n; k++ {
			p := refConsistency(m, d[:k])
			lib, err := tree.ConsistencyProof(uint64(m), uint64(k))
			require.NoError(t, err)
			if len(p) == 0 {
				require.Empty(t, lib, "proof %d->%d", m, k)
			} else {
				require.Equal(t, lib, p, "proof %d->%d", m, k)
			}
			require.NoError(t, proof.VerifyConsistency(Hasher, uint64(m), uint64(k), p, refMTH(d[:m]), refMTH(d[:k])), "%d->%d", m, k)
			if m < k {
				other := leaves(k, "u")
				require.Error(t, proof.VerifyConsistency(Hasher, uint64(m), uint64(k), p, refMTH(d[:m]), refMTH(other)), "%d->%d against another tree", m, k)
			}
		}
	}
}
