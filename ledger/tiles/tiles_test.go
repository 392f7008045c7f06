package tiles_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/compact"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/tiles"
	"github.com/gxhub/gxhub/ledger/witness"
)

func TestPath(t *testing.T) {
	for _, c := range []struct {
		level uint8
		index uint64
		width int
		want  string
	}{
		{0, 0, 256, "tile/0/000"},
		{0, 7, 3, "tile/0/007.p/3"},
		{1, 1234067, 256, "tile/1/x001/x234/067"},
		{2, 1000, 255, "tile/2/x001/000.p/255"},
	} {
		p := tiles.Path(c.level, c.index, c.width)
		require.Equal(t, c.want, p)
		l, i, w, err := tiles.ParsePath(strings.TrimPrefix(p, "tile/"))
		require.NoError(t, err)
		require.Equal(t, []any{int(c.level), c.index, c.width}, []any{l, i, w})
	}
	l, i, w, err := tiles.ParsePath("entries/x001/002.p/9")
	require.NoError(t, err)
	require.Equal(t, []any{-1, uint64(1002), 9}, []any{l, i, w})
	for _, bad := range []string{"0/7", "0/0007", "0/x000/007", "0/001/002", "0/000.p/0", "0/000.p/256", "0/000.p/07", "8/000", "-1/000", "a/000", "0/x1/000", "0"} {
		_, _, _, err := tiles.ParsePath(bad)
		require.ErrorIs(t, err, tiles.ErrBadPath, bad)
	}
}

// logOf returns a memory storage holding n small leaves, and its root.
func logOf(t *testing.T, n int) (ledger.Storage, []byte) {
	t.Helper()
	s := memory.New()
	rng := (&compact.RangeFactory{Hash: sm3hash.Default.HashChildren}).NewEmptyRange(0)
	var leaves [][]byte
	var nodes []ledger.Node
	flush := func() {
		start := rng.End() - uint64(len(leaves))
		require.NoError(t, s.AppendLeaves(context.Background(), start, leaves, nodes))
		leaves, nodes = nil, nil
	}
	for i := range n {
		leaf := []byte(fmt.Sprintf("leaf %d", i))
		leaves = append(leaves, leaf)
		require.NoError(t, rng.Append(sm3hash.Default.HashLeaf(leaf), func(id compact.NodeID, h []byte) {
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(id.Level), Index: id.Index}, Hash: h})
		}))
		if len(leaves) == 1000 {
			flush()
		}
	}
	if len(leaves) > 0 {
		flush()
	}
	root := sm3hash.Default.EmptyRoot()
	if n > 0 {
		var err error
		root, err = rng.GetRootHash(nil)
		require.NoError(t, err)
	}
	return s, root
}

// published serves a log of n leaves with a checkpoint signed by the test log key; edit,
// if set, may change a response body.
func published(t *testing.T, n int, edit func(path string, b []byte) []byte) (string, tiles.CheckNote) {
	t.Helper()
	s, root := logOf(t, n)
	signer := ledgertest.Signer(t, ledgertest.LogKeyName)
	ws, err := witness.NewSigner("test/log", witness.TypeCheckpoint, signer, signer.Public())
	require.NoError(t, err)
	note, err := ws.SignCheckpoint(context.Background(), witness.Checkpoint{Origin: "test/log", Size: uint64(n), Root: root})
	require.NoError(t, err)
	srv := &tiles.Server{Storage: s, Checkpoint: func(context.Context) ([]byte, error) { return note, nil }}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		if edit != nil {
			b = edit(r.URL.Path, bytes.Clone(b))
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(b)
	}))
	t.Cleanup(ts.Close)
	key, err := witness.NewKey("test/log", witness.TypeCheckpoint, signer.Public())
	require.NoError(t, err)
	check := func(note []byte) (uint64, []byte, error) {
		cp, _, err := witness.VerifyCosigned(note, key, nil, 0)
		return cp.Size, cp.Root, err
	}
	return ts.URL + "/log", check
}

func TestVerifyRebuildsTheTree(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 255, 256, 257, 256*256 + 300} {
		base, check := published(t, n, nil)
		v, err := tiles.Verify(ctx, nil, base, check)
		require.NoError(t, err, "size %d", n)
		require.Equal(t, uint64(n), v.Size)
		wantTiles := 0
		for hashes := n; hashes > 0; hashes /= 256 { // the hashes of tree levels 0, 8, 16, …
			wantTiles += (hashes + 255) / 256
		}
		require.Equal(t, wantTiles, v.Tiles, "size %d", n)
	}
}

func TestVerifyCatchesEdits(t *testing.T) {
	ctx := context.Background()
	flip := func(target string) func(string, []byte) []byte {
		return func(p string, b []byte) []byte {
			if strings.HasSuffix(p, target) && len(b) > 40 {
				b[33] ^= 1
			}
			return b
		}
	}
	for name, c := range map[string]struct {
		n    int
		edit func(string, []byte) []byte
	}{
		"a leaf hash in a full level-0 tile":       {600, flip("/tile/0/001")},
		"a leaf hash in the partial level-0 tile":  {600, flip("/tile/0/002.p/88")},
		"a subtree hash in a level-1 tile":         {600, flip("/tile/1/000.p/2")},
		"a checkpoint signed by no one":            {600, func(p string, b []byte) []byte { return bytes.Replace(b, []byte("600"), []byte("601"), 1) }},
		"a tile that is too short":                 {600, func(p string, b []byte) []byte { return b[:len(b)-1] }},
		"a level-1 tile of another tree (no leaf)": {256 * 256, flip("/tile/1/000")},
	} {
		base, check := published(t, c.n, c.edit)
		_, err := tiles.Verify(ctx, nil, base, check)
		require.Error(t, err, name)
		require.ErrorIs(t, err, ledger.ErrVerification, name)
	}
}

func TestServerRefusesEntriesAndWrites(t *testing.T) {
	base, _ := published(t, 3, nil)
	resp, err := http.Get(base + "/tile/entries/000.p/3")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, err = http.Post(base+"/tile/0/000.p/3", "application/octet-stream", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Get(base + "/tile/0/000.p/4")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a tile wider than the log")
	resp, err = http.Get(base + "/tile/0/000")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a full tile of a log of 3")
}
