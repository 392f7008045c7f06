package verify_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger/verify"
)

// TestTreePaths checks every leaf's path of trees of 1..40 leaves against the RFC 6962 root
// (verify.Root) and that a changed leaf or a wrong position leads elsewhere.
func TestTreePaths(t *testing.T) {
	for n := 1; n <= 40; n++ {
		var leaves [][]byte
		for i := range n {
			leaves = append(leaves, []byte(fmt.Sprintf("leaf %d", i)))
		}
		root, paths := verify.Tree(leaves)
		require.Equal(t, verify.Root(leaves), root, "n=%d", n)
		require.Len(t, paths, n)
		for i := range n {
			got, err := verify.RootFromPath(uint64(i), uint64(n), leaves[i], paths[i])
			require.NoError(t, err)
			require.Equal(t, root, got, "n=%d leaf %d", n, i)
			other, err := verify.RootFromPath(uint64(i), uint64(n), []byte("altered"), paths[i])
			require.NoError(t, err)
			require.False(t, bytes.Equal(root, other))
			if n > 1 {
				moved, err := verify.RootFromPath(uint64((i+1)%n), uint64(n), leaves[i], paths[i])
				require.True(t, err != nil || !bytes.Equal(root, moved), "n=%d leaf %d proves at another position", n, i)
			}
		}
	}
	_, err := verify.RootFromPath(3, 3, []byte("x"), nil)
	require.Error(t, err)
}
