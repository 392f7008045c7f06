package sm3hash_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

// GB/T 32905 / GM/T 0004 SM3 examples.
func TestSM3KnownAnswers(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"empty":   {"", "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"},
		"abc":     {"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		"abcd×16": {strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, hex.EncodeToString(sm3hash.Sum([]byte(tc.in))))
		})
	}
	require.Equal(t, tests["empty"].want, hex.EncodeToString(sm3hash.Default.EmptyRoot()))
	require.Equal(t, 32, sm3hash.Default.Size())
}

// refRoot is the RFC 6962 §2.1 Merkle Tree Hash, written out recursively
// and with its own prefixing, independent of the compact-range code.
func refRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return sm3hash.Sum(nil)
	case 1:
		return sm3hash.Sum(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
	return sm3hash.Sum(append(append([]byte{1}, l...), r...))
}

func leaves(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("leaf-%d", i))
	}
	return out
}

func compactRoot(t *testing.T, ls [][]byte) []byte {
	rf := compact.RangeFactory{Hash: sm3hash.Default.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, l := range ls {
		require.NoError(t, r.Append(sm3hash.Default.HashLeaf(l), nil))
	}
	if len(ls) == 0 {
		return sm3hash.Default.EmptyRoot()
	}
	root, err := r.GetRootHash(nil)
	require.NoError(t, err)
	return root
}

func TestRootsMatchReference(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 100, 257} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ls := leaves(n)
			require.Equal(t, refRoot(ls), compactRoot(t, ls))
		})
	}
}

// refPath is RFC 6962 §2.1.1 PATH(m, D[n]).
func refPath(m int, ls [][]byte) [][]byte {
	if len(ls) <= 1 {
		return nil
	}
	k := 1
	for k*2 < len(ls) {
		k *= 2
	}
	if m < k {
		return append(refPath(m, ls[:k]), refRoot(ls[k:]))
	}
	return append(refPath(m-k, ls[k:]), refRoot(ls[:k]))
}

func TestLibraryVerifiesReferenceProofs(t *testing.T) {
	for _, n := range []int{1, 2, 3, 6, 11, 16, 33} {
		ls := leaves(n)
		root := refRoot(ls)
		for m := range n {
			p := refPath(m, ls)
			require.NoError(t, proof.VerifyInclusion(sm3hash.Default, uint64(m), uint64(n), sm3hash.Default.HashLeaf(ls[m]), p, root), "n=%d m=%d", n, m)
		}
	}
}

// TestAgainstOpenSSL computes the root of a 3-leaf tree with OpenSSL's SM3,
// an implementation independent of gmsm.
func TestAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	sm3 := func(b []byte) []byte {
		cmd := exec.Command("openssl", "dgst", "-sm3", "-binary")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		require.NoError(t, err)
		require.Len(t, out, 32)
		return out
	}
	ls := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	la := sm3(append([]byte{0}, ls[0]...))
	lb := sm3(append([]byte{0}, ls[1]...))
	lc := sm3(append([]byte{0}, ls[2]...))
	ab := sm3(append(append([]byte{1}, la...), lb...))
	root := sm3(append(append([]byte{1}, ab...), lc...))
	require.Equal(t, root, compactRoot(t, ls))

	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	cmd := exec.Command("openssl", "mac", "-digest", "SM3", "-macopt", "hexkey:"+hex.EncodeToString(key), "HMAC")
	cmd.Stdin = strings.NewReader("11010519491231002X")
	out, err := cmd.Output()
	require.NoError(t, err)
	f, err := sm3hash.SubjectKeyer(key)
	require.NoError(t, err)
	got := f(" 11010519491231002x ")
	require.Equal(t, strings.ToLower(strings.TrimSpace(string(out))), got.String())
}

func TestSubjectKeyer(t *testing.T) {
	_, err := sm3hash.SubjectKeyer([]byte("short"))
	require.ErrorIs(t, err, ledger.ErrInvalid)
	f1, err := sm3hash.SubjectKeyer(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	f2, err := sm3hash.SubjectKeyer(bytes.Repeat([]byte{2}, 32))
	require.NoError(t, err)
	require.Equal(t, f1("110105194912310021"), f1(" 110105194912310021"), "normalised subjects hash alike")
	require.NotEqual(t, f1("110105194912310021"), f1("110105194912310022"))
	require.NotEqual(t, f1("110105194912310021"), f2("110105194912310021"), "the key matters")
	require.True(t, f1("  ").IsZero(), "an empty subject has no key")
	require.False(t, f1("x").IsZero())
}
