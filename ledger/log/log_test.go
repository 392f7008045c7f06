package log_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/ledger/verify"
)

const logID = "test/audit"

// countingStorage counts AppendLeaves calls and can be made to fail them.
type countingStorage struct {
	ledger.Storage
	appends atomic.Int64
	fail    atomic.Pointer[error]
}

var errDiskFull = errors.New("injected: disk full")

func (s *countingStorage) AppendLeaves(ctx context.Context, start uint64, leaves [][]byte, nodes []ledger.Node) error {
	s.appends.Add(1)
	if e := s.fail.Load(); e != nil {
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, *e)
	}
	return s.Storage.AppendLeaves(ctx, start, leaves, nodes)
}

func newLog(t testing.TB, s ledger.Storage, mod func(*log.Config)) *log.Log {
	t.Helper()
	cfg := log.DefaultConfig(logID)
	if mod != nil {
		mod(&cfg)
	}
	l, err := log.New(context.Background(), s, ledgertest.Signer(t, ledgertest.LogKeyName), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func leafOf(t testing.TB, i int) []byte {
	r := ledgertest.Record(i)
	b, err := r.MarshalBinary()
	require.NoError(t, err)
	return b
}

func TestProofsAgainstLibraryVerifier(t *testing.T) {
	ctx := context.Background()
	l := newLog(t, memory.New(), nil)
	var leaves [][]byte
	roots := [][]byte{sm3hash.Default.EmptyRoot()}
	for i := range 40 {
		idx, err := l.Append(ctx, ledgertest.Record(i))
		require.NoError(t, err)
		require.Equal(t, uint64(i), idx)
		leaves = append(leaves, leafOf(t, i))
		root := verify.Root(leaves)
		require.Equal(t, root, l.CurrentHead().Root, "root after %d leaves", i+1)
		roots = append(roots, root)
	}
	h := sm3hash.Default
	for size := uint64(1); size <= 40; size++ {
		for idx := uint64(0); idx < size; idx++ {
			p, err := l.InclusionProof(ctx, idx, size)
			require.NoError(t, err)
			require.NoError(t, proof.VerifyInclusion(h, idx, size, h.HashLeaf(leaves[idx]), p, roots[size]), "index %d size %d", idx, size)
		}
		for s1 := uint64(0); s1 <= size; s1++ {
			p, err := l.ConsistencyProof(ctx, s1, size)
			require.NoError(t, err)
			require.NoError(t, proof.VerifyConsistency(h, s1, size, p, roots[s1], roots[size]), "%d→%d", s1, size)
		}
	}
	t.Run("fail/bad arguments", func(t *testing.T) {
		_, err := l.InclusionProof(ctx, 5, 5)
		require.ErrorIs(t, err, ledger.ErrInvalid)
		_, err = l.InclusionProof(ctx, 5, 41)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = l.ConsistencyProof(ctx, 6, 5)
		require.ErrorIs(t, err, ledger.ErrInvalid)
		_, err = l.ConsistencyProof(ctx, 6, 41)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = l.GetRecord(ctx, 40)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = l.Append(ctx, ledger.Record{})
		require.ErrorIs(t, err, ledger.ErrInvalid)
	})
}

func TestGroupCommitConcurrent(t *testing.T) {
	ctx := context.Background()
	cs := &countingStorage{Storage: memory.New()}
	l := newLog(t, cs, func(c *log.Config) { c.CommitWindow = 2 * time.Millisecond; c.MaxBatch = 64 })
	const workers, per = 48, 40
	idx := make([][]uint64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				i, err := l.Append(ctx, ledgertest.Record(w*per+j))
				if err != nil {
					errs[w] = err
					return
				}
				idx[w] = append(idx[w], i)
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint64]int)
	for w := range workers {
		require.NoError(t, errs[w])
		for j, i := range idx[w] {
			_, dup := seen[i]
			require.False(t, dup, "index %d acknowledged twice", i)
			seen[i] = w*per + j
		}
	}
	const n = workers * per
	require.Len(t, seen, n)
	require.Equal(t, uint64(n), l.Size())
	for i := range uint64(n) {
		rec, ok := seen[i]
		require.True(t, ok, "index %d never acknowledged", i)
		e, err := l.GetRecord(ctx, i)
		require.NoError(t, err)
		require.Equal(t, leafOf(t, rec), e.Leaf, "index %d holds the wrong record", i)
	}
	calls := cs.appends.Load()
	require.Less(t, calls, int64(n), "appends were not batched")
	t.Logf("%d appends in %d storage writes (%.1f per write)", n, calls, float64(n)/float64(calls))

	sth, err := l.SignHead(ctx)
	require.NoError(t, err)
	all, err := cs.ReadLeaves(ctx, 0, n)
	require.NoError(t, err)
	require.NoError(t, verify.Contents(ledgertest.Verifier(t, ledgertest.LogKeyName), sth, all))
}

func TestFailedCommitFailsWholeBatch(t *testing.T) {
	ctx := context.Background()
	cs := &countingStorage{Storage: memory.New()}
	const k = 16
	l := newLog(t, cs, func(c *log.Config) { c.CommitWindow = 5 * time.Second; c.MaxBatch = k })
	// A first committed batch.
	var wg sync.WaitGroup
	errs := make([]error, k)
	idx := make([]uint64, k)
	for i := range k {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = l.Append(ctx, ledgertest.Record(i)) }()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	before := l.CurrentHead()
	require.Equal(t, uint64(k), before.Size)

	e := errDiskFull
	cs.fail.Store(&e)
	callsBefore := cs.appends.Load()
	for i := range k {
		wg.Add(1)
		go func() { defer wg.Done(); idx[i], errs[i] = l.Append(ctx, ledgertest.Record(100+i)) }()
	}
	wg.Wait()
	require.Equal(t, int64(1), cs.appends.Load()-callsBefore, "the %d appends must form one batch", k)
	for i, err := range errs {
		require.ErrorIs(t, err, errDiskFull, "caller %d", i)
		require.ErrorIs(t, err, ledger.ErrUnavailable)
		require.Zero(t, idx[i])
	}
	after := l.CurrentHead()
	require.Equal(t, before.Size, after.Size, "log state must not change")
	require.Equal(t, before.Root, after.Root)
	size, err := cs.Size(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(k), size)
	_, err = l.GetRecord(ctx, k)
	require.ErrorIs(t, err, ledger.ErrNotFound)

	// Recovery: the next batch lands right after the last good one.
	cs.fail.Store(nil)
	i, err := l.Append(ctx, ledgertest.Record(999))
	require.NoError(t, err)
	require.Equal(t, uint64(k), i)
	sth, err := l.SignHead(ctx)
	require.NoError(t, err)
	p, err := l.InclusionProof(ctx, i, sth.Size)
	require.NoError(t, err)
	require.NoError(t, verify.Inclusion(ledgertest.Verifier(t, ledgertest.LogKeyName), sth, i, leafOf(t, 999), p))
}

func TestCancelledAppendIsNotWritten(t *testing.T) {
	cs := &countingStorage{Storage: memory.New()}
	l := newLog(t, cs, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Append(ctx, ledgertest.Record(1))
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, l.Size())
	require.Zero(t, cs.appends.Load())
}

func TestCloseCommitsQueuedAndRefusesNew(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	l := newLog(t, s, func(c *log.Config) { c.CommitWindow = 50 * time.Millisecond })
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = l.Append(ctx, ledgertest.Record(i)) }()
	}
	time.Sleep(5 * time.Millisecond) // let the appends queue; the window is 50ms
	require.NoError(t, l.Close(ctx))
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, ledger.ErrClosed)
		}
	}
	size, err := s.Size(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(ok), size, "every acknowledged append is stored, no other")
	_, err = l.Append(ctx, ledgertest.Record(11))
	require.ErrorIs(t, err, ledger.ErrClosed)
}

func TestSignHead(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	l := newLog(t, s, nil)
	_, err := l.Head(ctx)
	require.ErrorIs(t, err, ledger.ErrNotFound)
	h0, err := l.SignHead(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(0), h0.Size)
	require.Equal(t, sm3hash.Default.EmptyRoot(), h0.Root)
	v := ledgertest.Verifier(t, ledgertest.LogKeyName)
	require.NoError(t, verify.Head(v, h0))
	again, err := l.SignHead(ctx)
	require.NoError(t, err)
	require.Equal(t, h0.Signature, again.Signature, "no new head without new records")
	for i := range 5 {
		_, err := l.Append(ctx, ledgertest.Record(i))
		require.NoError(t, err)
	}
	h5, err := l.SignHead(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(5), h5.Size)
	latest, err := l.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, h5.Signature, latest.Signature)
	p, err := l.ConsistencyProof(ctx, 0, 5)
	require.NoError(t, err)
	require.NoError(t, verify.Consistency(v, h0, h5, p))
}

func TestPublisherSignsAndAnchors(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	anch, err := embedded.New(s, ledgertest.Signer(t, "anchor"), embedded.WithHeadVerifier(ledgertest.Verifier(t, ledgertest.LogKeyName)))
	require.NoError(t, err)
	l := newLog(t, s, func(c *log.Config) { c.HeadInterval = 10 * time.Millisecond; c.Anchorer = anch })
	for round := range 3 {
		for i := range 7 {
			_, err := l.Append(ctx, ledgertest.Record(round*7+i))
			require.NoError(t, err)
		}
		want := uint64((round + 1) * 7)
		require.Eventually(t, func() bool {
			a, err := anch.Latest(ctx)
			return err == nil && a.Head.Size == want
		}, 10*time.Second, 5*time.Millisecond, "head of size %d never anchored", want)
	}
	var chain []ledger.Anchor
	latest, err := anch.Latest(ctx)
	require.NoError(t, err)
	for h := uint64(1); h <= latest.Height; h++ {
		a, err := anch.Get(ctx, h)
		require.NoError(t, err)
		chain = append(chain, a)
	}
	keys := verify.Keys{Log: ledgertest.Verifier(t, ledgertest.LogKeyName), Anchor: ledgertest.Verifier(t, "anchor")}
	require.NoError(t, verify.AnchorChain(keys, chain))

	// A receipt links record 3 to the latest anchor, through the first anchored head that
	// covers it. The publisher signs at its interval while the appends run, so the first
	// anchors may hold fewer than 4 records; which ones do depends on scheduling.
	var first ledger.Anchor
	for _, a := range chain {
		if a.Head.Size > 3 {
			first = a
			break
		}
	}
	require.Greater(t, first.Head.Size, uint64(3), "no anchored head covers record 3")
	p, err := l.InclusionProof(ctx, 3, first.Head.Size)
	require.NoError(t, err)
	ap, err := l.ConsistencyProof(ctx, first.Head.Size, latest.Head.Size)
	require.NoError(t, err)
	rec, err := verify.VerifyReceipt(keys, verify.Receipt{Index: 3, Leaf: leafOf(t, 3), Proof: p, Head: first.Head, Anchor: &latest, AnchorProof: ap})
	require.NoError(t, err)
	require.Equal(t, ledgertest.Record(3).Case, rec.Case)
}

func TestReopenChecksStoredTree(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	l := newLog(t, s, nil)
	for i := range 9 {
		_, err := l.Append(ctx, ledgertest.Record(i))
		require.NoError(t, err)
	}
	sth, err := l.SignHead(ctx)
	require.NoError(t, err)
	require.NoError(t, l.Close(ctx))

	t.Run("ok/same storage", func(t *testing.T) {
		l2 := newLog(t, s, nil)
		require.Equal(t, uint64(9), l2.Size())
		require.Equal(t, sth.Root, l2.CurrentHead().Root)
	})
	t.Run("fail/other log id", func(t *testing.T) {
		_, err := log.New(ctx, s, ledgertest.Signer(t, ledgertest.LogKeyName), log.DefaultConfig("other/log"))
		require.ErrorIs(t, err, ledger.ErrInvalid)
	})
	t.Run("fail/tree rebuilt from altered leaves", func(t *testing.T) {
		leaves, err := s.ReadLeaves(ctx, 0, 9)
		require.NoError(t, err)
		leaves[4] = leafOf(t, 1000)
		forged := rebuild(t, leaves)
		require.NoError(t, forged.PutHead(ctx, sth))
		_, err = log.New(ctx, forged, ledgertest.Signer(t, ledgertest.LogKeyName), log.DefaultConfig(logID))
		var pe *ledger.ProofError
		require.ErrorAs(t, err, &pe)
		require.ErrorIs(t, err, ledger.ErrVerification)
	})
	t.Run("fail/leaves removed below the signed head", func(t *testing.T) {
		leaves, err := s.ReadLeaves(ctx, 0, 8)
		require.NoError(t, err)
		forged := rebuild(t, leaves)
		require.NoError(t, forged.PutHead(ctx, sth))
		_, err = log.New(ctx, forged, ledgertest.Signer(t, ledgertest.LogKeyName), log.DefaultConfig(logID))
		require.ErrorIs(t, err, ledger.ErrVerification)
	})
}

// rebuild stores leaves with a correctly recomputed tree, as an attacker with
// write access to the database would.
func rebuild(t testing.TB, leaves [][]byte) *memory.Storage {
	t.Helper()
	return store(t, leaves, leaves)
}

// store writes leaves with the tree nodes of hashedLeaves (which may differ,
// to model a leaf row altered without touching the node rows).
func store(t testing.TB, leaves, hashedLeaves [][]byte) *memory.Storage {
	t.Helper()
	s := memory.New()
	rf := compact.RangeFactory{Hash: sm3hash.Default.HashChildren}
	r := rf.NewEmptyRange(0)
	var nodes []ledger.Node
	for _, l := range hashedLeaves {
		require.NoError(t, r.Append(sm3hash.Default.HashLeaf(l), func(id compact.NodeID, h []byte) {
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(id.Level), Index: id.Index}, Hash: h})
		}))
	}
	require.NoError(t, s.AppendLeaves(context.Background(), 0, leaves, nodes))
	return s
}

// storeWithLeafHashes writes leaves with the tree nodes of hashedLeaves except at level 0,
// where every leaf hash is that of leaves: an attacker who rewrote a leaf row and its
// leaf-hash row but not the nodes above.
func storeWithLeafHashes(t testing.TB, leaves, hashedLeaves [][]byte) *memory.Storage {
	t.Helper()
	s := memory.New()
	rf := compact.RangeFactory{Hash: sm3hash.Default.HashChildren}
	r := rf.NewEmptyRange(0)
	var nodes []ledger.Node
	for _, l := range hashedLeaves {
		require.NoError(t, r.Append(sm3hash.Default.HashLeaf(l), func(id compact.NodeID, h []byte) {
			if id.Level == 0 {
				h = sm3hash.Default.HashLeaf(leaves[id.Index])
			}
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(id.Level), Index: id.Index}, Hash: h})
		}))
	}
	require.NoError(t, s.AppendLeaves(context.Background(), 0, leaves, nodes))
	return s
}

func TestTamperedStorageIsDetected(t *testing.T) {
	ctx := context.Background()
	const n = 37
	orig := memory.New()
	l := newLog(t, orig, nil)
	for i := range n {
		_, err := l.Append(ctx, ledgertest.Record(i))
		require.NoError(t, err)
	}
	sth, err := l.SignHead(ctx)
	require.NoError(t, err)
	leaves, err := orig.ReadLeaves(ctx, 0, n)
	require.NoError(t, err)
	v := ledgertest.Verifier(t, ledgertest.LogKeyName)
	keys := verify.Keys{Log: v}

	// checkAll asks a log over the tampered storage (no stored head: the
	// attacker deleted them) for each record and proof, and verifies them
	// against the genuine signed head, as an auditor holding it would.
	// It returns how many indices were flagged.
	checkAll := func(t *testing.T, s *memory.Storage) (flagged int, badIdx map[uint64]bool) {
		badIdx = map[uint64]bool{}
		tl := newLog(t, s, nil)
		for i := uint64(0); i < n; i++ {
			e, gerr := tl.GetRecord(ctx, i)
			leaf := e.Leaf
			if gerr != nil {
				require.ErrorIs(t, gerr, ledger.ErrVerification)
				// Fall back to the raw row, as an auditor dumping the table would.
				raw, err := s.ReadLeaves(ctx, i, 1)
				require.NoError(t, err)
				leaf = raw[0]
			}
			p, err := tl.InclusionProof(ctx, i, n)
			require.NoError(t, err)
			_, verr := verify.VerifyReceipt(keys, verify.Receipt{Index: i, Leaf: leaf, Proof: p, Head: sth})
			if verr != nil {
				require.ErrorIs(t, verr, ledger.ErrVerification)
				badIdx[i] = true
			}
			if gerr != nil || verr != nil {
				flagged++
			}
		}
		return flagged, badIdx
	}

	t.Run("ok/untouched copy verifies", func(t *testing.T) {
		flagged, _ := checkAll(t, store(t, leaves, leaves))
		require.Zero(t, flagged)
		require.NoError(t, verify.Contents(v, sth, leaves))
	})
	for _, pos := range []int{0, 1, 2, 7, 15, 16, 17, 31, 32, 35, 36} {
		t.Run(fmt.Sprintf("fail/altered leaf %d, nodes kept", pos), func(t *testing.T) {
			alt := cloneLeaves(leaves)
			alt[pos] = leafOf(t, 5000+pos)
			s := store(t, alt, leaves)
			flagged, bad := checkAll(t, s)
			require.True(t, bad[uint64(pos)], "altered record %d passed verification", pos)
			require.Equal(t, 1, flagged)
			checked, err := newLog(t, s, nil).CheckLeaves(ctx, []ledger.Entry{{Index: uint64(pos), Leaf: alt[pos]}, {Index: uint64((pos + 1) % n), Leaf: alt[(pos+1)%n]}})
			require.NoError(t, err)
			require.Equal(t, []uint64{uint64(pos)}, checked)
			require.Error(t, verify.Contents(v, sth, alt))
		})
		if pos != n-1 { // the last leaf's hash is itself a node of the root: the open checks it against the latest signed head
			t.Run(fmt.Sprintf("fail/altered leaf %d and its leaf hash, upper nodes kept", pos), func(t *testing.T) {
				alt := cloneLeaves(leaves)
				alt[pos] = leafOf(t, 5000+pos)
				s := storeWithLeafHashes(t, alt, leaves)
				tl := newLog(t, s, nil)
				var all []ledger.Entry
				for i := range alt {
					all = append(all, ledger.Entry{Index: uint64(i), Leaf: alt[i]})
				}
				bad, err := tl.CheckLeaves(ctx, all)
				require.NoError(t, err)
				// The altered leaf hash is also on its neighbours' paths: they cannot be proven either.
				require.Contains(t, bad, uint64(pos), "a search's check flags the altered record")
				_, err = tl.GetRecord(ctx, uint64(pos))
				require.ErrorIs(t, err, ledger.ErrVerification, "a leaf rewritten with its leaf hash is not in the tree")
				var pe *ledger.ProofError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, "leaf", pe.Kind)
				require.Equal(t, uint64(pos), pe.Index)
			})
		}
		t.Run(fmt.Sprintf("fail/altered leaf %d, tree rebuilt", pos), func(t *testing.T) {
			alt := cloneLeaves(leaves)
			alt[pos] = leafOf(t, 5000+pos)
			_, bad := checkAll(t, rebuild(t, alt))
			require.True(t, bad[uint64(pos)], "altered record %d passed verification", pos)
		})
		t.Run(fmt.Sprintf("fail/single bit flipped in leaf %d", pos), func(t *testing.T) {
			alt := cloneLeaves(leaves)
			alt[pos][len(alt[pos])-1] ^= 1
			_, bad := checkAll(t, rebuild(t, alt))
			require.True(t, bad[uint64(pos)])
		})
		if pos < n-1 {
			t.Run(fmt.Sprintf("fail/leaves %d and %d swapped", pos, pos+1), func(t *testing.T) {
				alt := cloneLeaves(leaves)
				alt[pos], alt[pos+1] = alt[pos+1], alt[pos]
				_, bad := checkAll(t, rebuild(t, alt))
				require.True(t, bad[uint64(pos)] && bad[uint64(pos+1)])
				require.Error(t, verify.Contents(v, sth, alt))
			})
		}
		t.Run(fmt.Sprintf("fail/leaf %d removed", pos), func(t *testing.T) {
			alt := append(cloneLeaves(leaves[:pos]), cloneLeaves(leaves[pos+1:])...)
			alt = append(alt, leafOf(t, 6000)) // keep the size: an appended filler
			_, bad := checkAll(t, rebuild(t, alt))
			for i := pos; i < n; i++ {
				require.True(t, bad[uint64(i)], "record %d after the removed one passed", i)
			}
			require.Error(t, verify.Contents(v, sth, alt))
			require.Error(t, verify.Contents(v, sth, alt[:n-1]))
		})
	}
}

func cloneLeaves(ls [][]byte) [][]byte {
	out := make([][]byte, len(ls))
	for i := range ls {
		out[i] = bytes.Clone(ls[i])
	}
	return out
}
