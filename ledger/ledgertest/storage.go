package ledgertest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/compact"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/verify"
)

// tree builds realistic leaf batches: leaves and the nodes they complete.
type tree struct {
	rng *compact.Range
}

func newTree() *tree {
	rf := &compact.RangeFactory{Hash: sm3hash.Default.HashChildren}
	return &tree{rng: rf.NewEmptyRange(0)}
}

func (tr *tree) batch(t *testing.T, from, n int) ([][]byte, []ledger.Node) {
	t.Helper()
	var leaves [][]byte
	var nodes []ledger.Node
	for i := from; i < from+n; i++ {
		r := Record(i)
		leaf, err := r.MarshalBinary()
		require.NoError(t, err)
		leaves = append(leaves, leaf)
		require.NoError(t, tr.rng.Append(sm3hash.Default.HashLeaf(leaf), func(id compact.NodeID, h []byte) {
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(id.Level), Index: id.Index}, Hash: h})
		}))
	}
	return leaves, nodes
}

// RunStorage runs the [ledger.Storage] conformance suite. newStorage must
// return a new, empty storage (one log) for each call.
func RunStorage(t *testing.T, newStorage func(t *testing.T) ledger.Storage) {
	ctx := context.Background()

	t.Run("leaves/empty", func(t *testing.T) {
		s := newStorage(t)
		n, err := s.Size(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		_, err = s.ReadLeaves(ctx, 0, 1)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		got, err := s.ReadLeaves(ctx, 0, 0)
		require.NoError(t, err)
		require.Empty(t, got)
		_, err = s.ReadNodes(ctx, []ledger.NodeID{{Level: 0, Index: 0}})
		require.ErrorIs(t, err, ledger.ErrNotFound)
		require.NoError(t, s.AppendLeaves(ctx, 0, nil, nil), "an empty append is a no-op")
	})

	t.Run("leaves/append and read back", func(t *testing.T) {
		s := newStorage(t)
		tr := newTree()
		var all [][]byte
		var allNodes []ledger.Node
		for _, n := range []int{1, 2, 5, 8, 1, 16} {
			start := len(all)
			leaves, nodes := tr.batch(t, start, n)
			require.NoError(t, s.AppendLeaves(ctx, uint64(start), leaves, nodes))
			all = append(all, leaves...)
			allNodes = append(allNodes, nodes...)
			size, err := s.Size(ctx)
			require.NoError(t, err)
			require.Equal(t, uint64(len(all)), size)
		}
		got, err := s.ReadLeaves(ctx, 0, uint64(len(all)))
		require.NoError(t, err)
		require.Equal(t, all, got)
		got, err = s.ReadLeaves(ctx, 3, 4)
		require.NoError(t, err)
		require.Equal(t, all[3:7], got)
		_, err = s.ReadLeaves(ctx, 30, 4)
		require.ErrorIs(t, err, ledger.ErrNotFound)

		ids := make([]ledger.NodeID, len(allNodes))
		for i, n := range allNodes {
			ids[i] = n.ID
		}
		// Read in reverse order too: order must follow the request.
		rev := make([]ledger.NodeID, len(ids))
		for i := range ids {
			rev[len(ids)-1-i] = ids[i]
		}
		hashes, err := s.ReadNodes(ctx, rev)
		require.NoError(t, err)
		for i, h := range hashes {
			require.Equal(t, allNodes[len(ids)-1-i].Hash, h, "node %v", rev[i])
		}
		_, err = s.ReadNodes(ctx, []ledger.NodeID{{Level: 0, Index: 0}, {Level: 5, Index: 1}})
		require.ErrorIs(t, err, ledger.ErrNotFound, "node (5,1) needs 64 leaves, there are 33")
	})

	t.Run("leaves/wrong start is a conflict and writes nothing", func(t *testing.T) {
		s := newStorage(t)
		tr := newTree()
		leaves, nodes := tr.batch(t, 0, 3)
		require.NoError(t, s.AppendLeaves(ctx, 0, leaves, nodes))
		tr2 := newTree()
		tr2.batch(t, 0, 3)
		more, moreNodes := tr2.batch(t, 3, 2)
		for _, start := range []uint64{0, 2, 4, 100} {
			err := s.AppendLeaves(ctx, start, more, moreNodes)
			require.ErrorIs(t, err, ledger.ErrConflict, "start %d", start)
		}
		size, err := s.Size(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(3), size)
		require.NoError(t, s.AppendLeaves(ctx, 3, more, moreNodes))
	})

	t.Run("leaves/node with a different hash is a conflict and writes nothing", func(t *testing.T) {
		s := newStorage(t)
		tr := newTree()
		leaves, nodes := tr.batch(t, 0, 2)
		require.NoError(t, s.AppendLeaves(ctx, 0, leaves, nodes))
		more, moreNodes := tr.batch(t, 2, 2)
		bad := append([]ledger.Node{{ID: nodes[0].ID, Hash: bytes.Repeat([]byte{7}, 32)}}, moreNodes...)
		require.ErrorIs(t, s.AppendLeaves(ctx, 2, more, bad), ledger.ErrConflict)
		size, err := s.Size(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(2), size, "a failed append must leave nothing visible")
		_, err = s.ReadNodes(ctx, []ledger.NodeID{moreNodes[0].ID})
		require.ErrorIs(t, err, ledger.ErrNotFound, "no node of a failed append may be visible")
		h, err := s.ReadNodes(ctx, []ledger.NodeID{nodes[0].ID})
		require.NoError(t, err)
		require.Equal(t, nodes[0].Hash, h[0])
		require.NoError(t, s.AppendLeaves(ctx, 2, more, moreNodes))
	})

	t.Run("leaves/no aliasing", func(t *testing.T) {
		s := newStorage(t)
		tr := newTree()
		leaves, nodes := tr.batch(t, 0, 2)
		want := bytes.Clone(leaves[0])
		wantHash := bytes.Clone(nodes[0].Hash)
		require.NoError(t, s.AppendLeaves(ctx, 0, leaves, nodes))
		leaves[0][0] ^= 0xff
		nodes[0].Hash[0] ^= 0xff
		got, err := s.ReadLeaves(ctx, 0, 1)
		require.NoError(t, err)
		require.Equal(t, want, got[0], "storage must copy leaves")
		got[0][0] ^= 0xff
		again, err := s.ReadLeaves(ctx, 0, 1)
		require.NoError(t, err)
		require.Equal(t, want, again[0], "returned leaves must be the caller's")
		h, err := s.ReadNodes(ctx, []ledger.NodeID{nodes[0].ID})
		require.NoError(t, err)
		require.Equal(t, wantHash, h[0], "storage must copy node hashes")
	})

	t.Run("leaves/concurrent appends at the same index: exactly one wins", func(t *testing.T) {
		s := newStorage(t)
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			tr := newTree()
			leaves, nodes := tr.batch(t, 0, 2)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w] = s.AppendLeaves(ctx, 0, leaves, nodes)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				require.ErrorIs(t, err, ledger.ErrConflict)
			}
		}
		require.Equal(t, 1, wins)
		size, err := s.Size(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(2), size)
	})

	t.Run("leaves/cancelled context", func(t *testing.T) {
		s := newStorage(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		tr := newTree()
		leaves, nodes := tr.batch(t, 0, 1)
		require.Error(t, s.AppendLeaves(cctx, 0, leaves, nodes))
		size, err := s.Size(ctx)
		require.NoError(t, err)
		require.Zero(t, size)
	})

	t.Run("heads", func(t *testing.T) {
		s := newStorage(t)
		_, err := s.LatestHead(ctx)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = s.GetHead(ctx, 0)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		at := time.Date(2026, 11, 21, 9, 0, 0, 123456000, time.UTC)
		mk := func(size uint64, root byte) ledger.SignedTreeHead {
			return ledger.SignedTreeHead{
				TreeHead:  ledger.TreeHead{LogID: "test/log", Size: size, Root: bytes.Repeat([]byte{root}, 32), Time: at.Add(time.Duration(size) * time.Second)},
				KeyID:     "k1",
				Signature: []byte{1, 2, 3, root},
			}
		}
		for _, size := range []uint64{0, 5, 3, 9} {
			require.NoError(t, s.PutHead(ctx, mk(size, byte(size))))
		}
		latest, err := s.LatestHead(ctx)
		require.NoError(t, err)
		requireHead(t, mk(9, 9), latest)
		got, err := s.GetHead(ctx, 3)
		require.NoError(t, err)
		requireHead(t, mk(3, 3), got)
		require.NoError(t, s.PutHead(ctx, mk(5, 5)), "storing the same head again is a no-op")
		require.ErrorIs(t, s.PutHead(ctx, mk(5, 6)), ledger.ErrConflict, "a second head for one size is refused")
		got, err = s.GetHead(ctx, 5)
		require.NoError(t, err)
		requireHead(t, mk(5, 5), got)
		_, err = s.GetHead(ctx, 4)
		require.ErrorIs(t, err, ledger.ErrNotFound)
	})

	t.Run("anchors", func(t *testing.T) {
		s := newStorage(t)
		_, err := s.LatestAnchor(ctx)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = s.GetAnchor(ctx, 1)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = s.AnchorBySize(ctx, 1)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		at := time.Date(2026, 11, 21, 9, 0, 0, 987654000, time.UTC)
		mk := func(height, size uint64) ledger.Anchor {
			a := ledger.Anchor{
				Height: height, Time: at.Add(time.Duration(height) * time.Minute),
				Head: ledger.SignedTreeHead{
					TreeHead: ledger.TreeHead{LogID: "test/log", Size: size, Root: bytes.Repeat([]byte{byte(size)}, 32), Time: at},
					KeyID:    "k1", Signature: []byte{9, byte(size)},
				},
				KeyID: "k2", Signature: []byte{8, byte(height)}, Hash: bytes.Repeat([]byte{byte(height)}, 32),
				Ref: "ref-" + string(rune('a'+height)),
			}
			if height > 1 {
				a.PrevHash = bytes.Repeat([]byte{byte(height - 1)}, 32)
				a.Consistency = [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
			}
			return a
		}
		require.ErrorIs(t, s.PutAnchor(ctx, mk(2, 4)), ledger.ErrConflict, "height must start at 1")
		require.NoError(t, s.PutAnchor(ctx, mk(1, 4)))
		require.ErrorIs(t, s.PutAnchor(ctx, mk(1, 5)), ledger.ErrConflict, "height taken")
		require.ErrorIs(t, s.PutAnchor(ctx, mk(3, 5)), ledger.ErrConflict, "height gap")
		require.ErrorIs(t, s.PutAnchor(ctx, mk(2, 4)), ledger.ErrConflict, "size already anchored")
		require.NoError(t, s.PutAnchor(ctx, mk(2, 10)))
		require.NoError(t, s.PutAnchor(ctx, mk(3, 17)))
		latest, err := s.LatestAnchor(ctx)
		require.NoError(t, err)
		requireAnchor(t, mk(3, 17), latest)
		got, err := s.GetAnchor(ctx, 2)
		require.NoError(t, err)
		requireAnchor(t, mk(2, 10), got)
		got, err = s.AnchorBySize(ctx, 4)
		require.NoError(t, err)
		requireAnchor(t, mk(1, 4), got)
		_, err = s.GetAnchor(ctx, 4)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = s.AnchorBySize(ctx, 5)
		require.ErrorIs(t, err, ledger.ErrNotFound)
	})

	t.Run("log on top: group-committed appends, reopen, proofs", func(t *testing.T) {
		s := newStorage(t)
		signer := Signer(t, LogKeyName)
		cfg := log.DefaultConfig("test/log")
		l, err := log.New(ctx, s, signer, cfg)
		require.NoError(t, err)
		const n = 77
		var wg sync.WaitGroup
		idx := make([]uint64, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				idx[i], errs[i] = l.Append(ctx, Record(i))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		sth, err := l.SignHead(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(n), sth.Size)
		require.NoError(t, l.Close(ctx))

		// Reopen from storage alone and prove every record.
		l2, err := log.New(ctx, s, signer, cfg)
		require.NoError(t, err)
		defer l2.Close(ctx)
		head, err := l2.Head(ctx)
		require.NoError(t, err)
		requireHead(t, sth, head)
		v := Verifier(t, LogKeyName)
		for i := range n {
			e, err := l2.GetRecord(ctx, idx[i])
			require.NoError(t, err)
			rec := Record(i)
			want, _ := rec.MarshalBinary()
			require.Equal(t, want, e.Leaf)
			p, err := l2.InclusionProof(ctx, idx[i], head.Size)
			require.NoError(t, err)
			require.NoError(t, verify.Inclusion(v, head, idx[i], e.Leaf, p))
		}
		for i := range 3 {
			_, err := l2.Append(ctx, Record(n+i))
			require.NoError(t, err)
		}
		sth2, err := l2.SignHead(ctx)
		require.NoError(t, err)
		p, err := l2.ConsistencyProof(ctx, sth.Size, sth2.Size)
		require.NoError(t, err)
		require.NoError(t, verify.Consistency(v, sth, sth2, p))
	})
}

func requireHead(t *testing.T, want, got ledger.SignedTreeHead) {
	t.Helper()
	require.Equal(t, want.LogID, got.LogID)
	require.Equal(t, want.Size, got.Size)
	require.Equal(t, want.Root, got.Root)
	require.True(t, want.Time.Equal(got.Time), "time %s, want %s", got.Time, want.Time)
	require.Equal(t, want.KeyID, got.KeyID)
	require.Equal(t, want.Signature, got.Signature)
}

func requireAnchor(t *testing.T, want, got ledger.Anchor) {
	t.Helper()
	require.Equal(t, want.Height, got.Height)
	require.Equal(t, want.PrevHash, got.PrevHash)
	require.True(t, want.Time.Equal(got.Time), "time %s, want %s", got.Time, want.Time)
	requireHead(t, want.Head, got.Head)
	require.Equal(t, len(want.Consistency), len(got.Consistency))
	for i := range want.Consistency {
		require.Equal(t, want.Consistency[i], got.Consistency[i])
	}
	require.Equal(t, want.KeyID, got.KeyID)
	require.Equal(t, want.Signature, got.Signature)
	require.Equal(t, want.Hash, got.Hash)
	require.Equal(t, want.Ref, got.Ref)
}
