package ledgertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/verify"
)

// AnchorerOption tunes [RunAnchorer].
type AnchorerOption func(*anchorerOpts)

type anchorerOpts struct {
	anchorKey ledger.Verifier
}

// WithAnchorKey makes the suite also verify the anchor chain with
// verify.AnchorChain, block signatures checked with v. Use it for
// anchorers that produce SM2-signed, hash-linked blocks (embedded).
func WithAnchorKey(v ledger.Verifier) AnchorerOption {
	return func(o *anchorerOpts) { o.anchorKey = v }
}

// source is a real log whose heads and proofs feed the anchorer under test.
type source struct {
	t   *testing.T
	log *log.Log
	n   int
}

func newSource(t *testing.T, logID string, seed int) *source {
	t.Helper()
	l, err := log.New(context.Background(), memory.New(), Signer(t, LogKeyName), log.DefaultConfig(logID))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return &source{t: t, log: l, n: seed}
}

// grow appends k records and signs a head.
func (s *source) grow(k int) ledger.SignedTreeHead {
	s.t.Helper()
	ctx := context.Background()
	for range k {
		_, err := s.log.Append(ctx, Record(s.n))
		require.NoError(s.t, err)
		s.n++
	}
	h, err := s.log.SignHead(ctx)
	require.NoError(s.t, err)
	return h
}

func (s *source) proof(from, to uint64) [][]byte {
	s.t.Helper()
	p, err := s.log.ConsistencyProof(context.Background(), from, to)
	require.NoError(s.t, err)
	return p
}

// RunAnchorer runs the [ledger.Anchorer] conformance suite. newAnchorer
// must return a new, empty anchor chain for each call. Heads given to it are
// signed with Signer(t, LogKeyName).
func RunAnchorer(t *testing.T, newAnchorer func(t *testing.T) ledger.Anchorer, opts ...AnchorerOption) {
	var o anchorerOpts
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	const logID = "test/anchored-log"

	t.Run("empty", func(t *testing.T) {
		a := newAnchorer(t)
		_, err := a.Latest(ctx)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = a.Get(ctx, 1)
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = a.BySize(ctx, 1)
		require.ErrorIs(t, err, ledger.ErrNotFound)
	})

	t.Run("ok/growing heads form a chain", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		var prev *ledger.Anchor
		var chain []ledger.Anchor
		for _, k := range []int{1, 4, 3, 8, 1, 20} {
			h := src.grow(k)
			var p [][]byte
			if prev != nil {
				p = src.proof(prev.Head.Size, h.Size)
			}
			anc, err := a.Anchor(ctx, h, p)
			require.NoError(t, err)
			require.True(t, ledger.SameHead(h.TreeHead, anc.Head.TreeHead))
			if prev == nil {
				require.Equal(t, uint64(1), anc.Height)
			} else {
				require.Equal(t, prev.Height+1, anc.Height)
				if len(prev.Hash) > 0 {
					require.Equal(t, prev.Hash, anc.PrevHash)
				}
			}
			got, err := a.Get(ctx, anc.Height)
			require.NoError(t, err)
			require.True(t, ledger.SameHead(h.TreeHead, got.Head.TreeHead))
			got, err = a.BySize(ctx, h.Size)
			require.NoError(t, err)
			require.Equal(t, anc.Height, got.Height)
			latest, err := a.Latest(ctx)
			require.NoError(t, err)
			require.Equal(t, anc.Height, latest.Height)
			chain = append(chain, got)
			prev = &chain[len(chain)-1]
		}
		if o.anchorKey != nil {
			keys := verify.Keys{Log: Verifier(t, LogKeyName), Anchor: o.anchorKey}
			require.NoError(t, verify.AnchorChain(keys, chain))
		}
	})

	t.Run("ok/same head again is idempotent", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		h := src.grow(5)
		first, err := a.Anchor(ctx, h, nil)
		require.NoError(t, err)
		again, err := a.Anchor(ctx, h, nil)
		require.NoError(t, err)
		require.Equal(t, first.Height, again.Height)
		require.Equal(t, first.Hash, again.Hash)
		latest, err := a.Latest(ctx)
		require.NoError(t, err)
		require.Equal(t, first.Height, latest.Height)
	})

	t.Run("fail/fork: same size, different root", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		h := src.grow(6)
		_, err := a.Anchor(ctx, h, nil)
		require.NoError(t, err)
		other := newSource(t, logID, 1000) // different records, same size
		fork := other.grow(6)
		_, err = a.Anchor(ctx, fork, nil)
		var fe *ledger.ForkError
		require.ErrorAs(t, err, &fe)
		require.ErrorIs(t, err, ledger.ErrVerification)
		latest, err := a.Latest(ctx)
		require.NoError(t, err)
		require.True(t, ledger.SameHead(h.TreeHead, latest.Head.TreeHead), "a refused head must not be anchored")
	})

	t.Run("fail/inconsistent heads are refused", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		h1 := src.grow(5)
		_, err := a.Anchor(ctx, h1, nil)
		require.NoError(t, err)
		other := newSource(t, logID, 1000)
		other.grow(5)
		h2other := other.grow(4) // size 9, not an extension of h1
		h2 := src.grow(4)        // size 9, a true extension
		good := src.proof(5, 9)
		tests := map[string]struct {
			head  ledger.SignedTreeHead
			proof [][]byte
		}{
			"missing proof":            {h2, nil},
			"proof of another history": {h2other, other.proof(5, 9)},
			"valid proof, wrong head":  {h2other, good},
			"truncated proof":          {h2, good[:len(good)-1]},
			"altered proof":            {h2, alter(good)},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				_, err := a.Anchor(ctx, tc.head, tc.proof)
				require.ErrorIs(t, err, ledger.ErrInconsistent)
				latest, err := a.Latest(ctx)
				require.NoError(t, err)
				require.Equal(t, uint64(5), latest.Head.Size)
			})
		}
		t.Run("smaller head", func(t *testing.T) {
			_, err := a.Anchor(ctx, h2, good)
			require.NoError(t, err)
			_, err = a.Anchor(ctx, h1, nil)
			require.ErrorIs(t, err, ledger.ErrInconsistent)
		})
	})

	t.Run("fail/head of another log", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		_, err := a.Anchor(ctx, src.grow(3), nil)
		require.NoError(t, err)
		other := newSource(t, "test/other-log", 0)
		h := other.grow(5)
		_, err = a.Anchor(ctx, h, other.proof(3, 5))
		require.ErrorIs(t, err, ledger.ErrInvalid)
	})

	t.Run("ok/concurrent anchoring of one head adds one block", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		h1 := src.grow(2)
		_, err := a.Anchor(ctx, h1, nil)
		require.NoError(t, err)
		h2 := src.grow(7)
		p := src.proof(h1.Size, h2.Size)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = a.Anchor(ctx, h2, p)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				require.ErrorIs(t, err, ledger.ErrConflict)
			}
		}
		latest, err := a.Latest(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(2), latest.Height)
		require.True(t, ledger.SameHead(h2.TreeHead, latest.Head.TreeHead))
	})

	t.Run("ok/anchored block survives a context deadline afterwards", func(t *testing.T) {
		a := newAnchorer(t)
		src := newSource(t, logID, 0)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		anc, err := a.Anchor(cctx, src.grow(4), nil)
		cancel()
		require.NoError(t, err)
		got, err := a.Get(ctx, anc.Height)
		require.NoError(t, err)
		require.Equal(t, anc.Head.Size, got.Head.Size)
	})
}

func alter(p [][]byte) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = append([]byte(nil), p[i]...)
	}
	out[0][0] ^= 1
	return out
}
