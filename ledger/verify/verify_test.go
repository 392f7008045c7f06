package verify_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/verify"
)

type fixture struct {
	log  *log.Log
	keys verify.Keys
	next int
}

func newFixture(t *testing.T, seed int) *fixture {
	t.Helper()
	l, err := log.New(context.Background(), memory.New(), ledgertest.Signer(t, ledgertest.LogKeyName), log.DefaultConfig("test/audit"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return &fixture{log: l, next: seed, keys: verify.Keys{Log: ledgertest.Verifier(t, ledgertest.LogKeyName), Anchor: ledgertest.Verifier(t, "anchor")}}
}

func (f *fixture) grow(t *testing.T, k int) ledger.SignedTreeHead {
	t.Helper()
	for range k {
		_, err := f.log.Append(context.Background(), ledgertest.Record(f.next))
		require.NoError(t, err)
		f.next++
	}
	h, err := f.log.SignHead(context.Background())
	require.NoError(t, err)
	return h
}

func TestForkDetection(t *testing.T) {
	ctx := context.Background()
	a := newFixture(t, 0)
	b := newFixture(t, 0)
	ha5 := a.grow(t, 5)
	hb5 := b.grow(t, 5)
	require.Equal(t, ha5.Root, hb5.Root, "same records give the same tree")
	ha8 := a.grow(t, 3)
	b.next = 500 // b now diverges: a different record at index 5
	hb8 := b.grow(t, 3)
	require.NotEqual(t, ha8.Root, hb8.Root)
	v := a.keys.Log

	t.Run("fail/two heads of one size", func(t *testing.T) {
		err := verify.Fork(v, ha8, hb8)
		var fe *ledger.ForkError
		require.ErrorAs(t, err, &fe)
		require.ErrorIs(t, err, ledger.ErrVerification)
		require.Equal(t, ha8.Root, fe.A.Root)
		require.Equal(t, hb8.Root, fe.B.Root)
	})
	t.Run("fail/fork inside a set of collected heads", func(t *testing.T) {
		err := verify.Heads(v, []ledger.SignedTreeHead{ha5, ha8, hb5, hb8})
		var fe *ledger.ForkError
		require.ErrorAs(t, err, &fe)
	})
	t.Run("fail/consistency between forked heads of equal size", func(t *testing.T) {
		var fe *ledger.ForkError
		require.ErrorAs(t, verify.Consistency(v, ha8, hb8, nil), &fe)
	})
	t.Run("fail/consistency proof of one branch against the other", func(t *testing.T) {
		p, err := a.log.ConsistencyProof(ctx, 5, 8)
		require.NoError(t, err)
		require.NoError(t, verify.Consistency(v, ha5, ha8, p))
		err = verify.Consistency(v, hb5, hb8, p)
		require.ErrorIs(t, err, ledger.ErrInconsistent)
		pb, err := b.log.ConsistencyProof(ctx, 5, 8)
		require.NoError(t, err)
		require.NoError(t, verify.Consistency(v, hb5, hb8, pb))
		require.ErrorIs(t, verify.Consistency(v, ha5, hb8, p), ledger.ErrInconsistent)
	})
	t.Run("ok/no fork", func(t *testing.T) {
		require.NoError(t, verify.Fork(v, ha5, hb5))
		require.NoError(t, verify.Fork(v, ha5, ha8))
		require.NoError(t, verify.Heads(v, []ledger.SignedTreeHead{ha5, ha8, hb5}))
	})
	t.Run("fail/unsigned fork is not evidence", func(t *testing.T) {
		forged := hb8
		forged.Signature = bytes.Clone(ha8.Signature)
		err := verify.Fork(v, ha8, forged)
		var pe *ledger.ProofError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "signature", pe.Kind)
	})
}

func TestHeadSignature(t *testing.T) {
	f := newFixture(t, 0)
	h := f.grow(t, 3)
	v := f.keys.Log
	require.NoError(t, verify.Head(v, h))
	tests := map[string]func(*ledger.SignedTreeHead){
		"fail/size changed":   func(h *ledger.SignedTreeHead) { h.Size++ },
		"fail/root changed":   func(h *ledger.SignedTreeHead) { h.Root = bytes.Repeat([]byte{1}, 32) },
		"fail/time changed":   func(h *ledger.SignedTreeHead) { h.Time = h.Time.Add(1) },
		"fail/log id changed": func(h *ledger.SignedTreeHead) { h.LogID = "other" },
		"fail/signature changed": func(h *ledger.SignedTreeHead) {
			h.Signature = append(bytes.Clone(h.Signature[:len(h.Signature)-1]), h.Signature[len(h.Signature)-1]^1)
		},
		"fail/other key id": func(h *ledger.SignedTreeHead) { h.KeyID = "someone" },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			c := h
			mod(&c)
			require.ErrorIs(t, verify.Head(v, c), ledger.ErrVerification)
		})
	}
	other := ledgertest.Verifier(t, "other")
	require.ErrorIs(t, verify.Head(other, h), ledger.ErrVerification)
}

func TestInclusionRejects(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	h := f.grow(t, 10)
	e, err := f.log.GetRecord(ctx, 6)
	require.NoError(t, err)
	p, err := f.log.InclusionProof(ctx, 6, 10)
	require.NoError(t, err)
	v := f.keys.Log
	require.NoError(t, verify.Inclusion(v, h, 6, e.Leaf, p))
	require.NoError(t, verify.Record(v, h, 6, e.Record, p))
	tests := map[string]struct {
		index uint64
		leaf  []byte
		proof [][]byte
	}{
		"fail/wrong index":     {5, e.Leaf, p},
		"fail/index past size": {10, e.Leaf, p},
		"fail/short proof":     {6, e.Leaf, p[:len(p)-1]},
		"fail/long proof":      {6, e.Leaf, append(p, p[0])},
		"fail/altered proof":   {6, e.Leaf, [][]byte{p[1], p[0], p[2]}},
		"fail/other leaf":      {6, append(bytes.Clone(e.Leaf), 0), p},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := verify.Inclusion(v, h, tc.index, tc.leaf, tc.proof)
			var pe *ledger.ProofError
			require.ErrorAs(t, err, &pe)
			require.ErrorIs(t, err, ledger.ErrVerification)
		})
	}
}

func anchorChain(t *testing.T) (*fixture, []ledger.Anchor) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, 0)
	a, err := embedded.New(memory.New(), ledgertest.Signer(t, "anchor"))
	require.NoError(t, err)
	var chain []ledger.Anchor
	for _, k := range []int{2, 3, 5, 1, 8} {
		f.grow(t, k)
		anc, err := f.log.AnchorLatest(ctx, a)
		require.NoError(t, err)
		chain = append(chain, anc)
	}
	return f, chain
}

func TestAnchorChain(t *testing.T) {
	f, chain := anchorChain(t)
	keys := f.keys
	require.NoError(t, verify.AnchorChain(keys, chain))
	require.NoError(t, verify.AnchorChainFrom(keys, &chain[1], chain[2:]))

	clone := func() []ledger.Anchor {
		out := make([]ledger.Anchor, len(chain))
		copy(out, chain)
		return out
	}
	tests := map[string]func() []ledger.Anchor{
		"fail/block removed":  func() []ledger.Anchor { c := clone(); return append(c[:2], c[3:]...) },
		"fail/blocks swapped": func() []ledger.Anchor { c := clone(); c[2], c[3] = c[3], c[2]; return c },
		"fail/first missing":  func() []ledger.Anchor { return clone()[1:] },
		"fail/head root altered": func() []ledger.Anchor {
			c := clone()
			c[3].Head.Root = bytes.Repeat([]byte{9}, 32)
			return c
		},
		"fail/block time altered": func() []ledger.Anchor { c := clone(); c[1].Time = c[1].Time.Add(1); return c },
		"fail/prev hash altered": func() []ledger.Anchor {
			c := clone()
			c[2].PrevHash = bytes.Repeat([]byte{9}, 32)
			return c
		},
		"fail/block re-signed by another key": func() []ledger.Anchor {
			c := clone()
			msg, err := c[4].SignedBytes()
			require.NoError(t, err)
			c[4].Signature, err = ledgertest.Signer(t, "mallory").Sign(context.Background(), msg)
			require.NoError(t, err)
			return c
		},
		"fail/consistency proof dropped": func() []ledger.Anchor { c := clone(); c[2].Consistency = nil; return c },
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			err := verify.AnchorChain(keys, mk())
			require.ErrorIs(t, err, ledger.ErrVerification)
			var ce *ledger.ChainError
			require.ErrorAs(t, err, &ce)
		})
	}
}

func TestAnchorChainRebuiltFromForkedLog(t *testing.T) {
	// An operator with the anchoring key rebuilds the chain over a forked
	// history: every block is well-formed and signed, but its heads differ
	// from heads an auditor already holds.
	ctx := context.Background()
	f, chain := anchorChain(t)
	g := newFixture(t, 900)
	a, err := embedded.New(memory.New(), ledgertest.Signer(t, "anchor"))
	require.NoError(t, err)
	var forged []ledger.Anchor
	for _, k := range []int{2, 3, 5, 1, 8} {
		g.grow(t, k)
		anc, err := g.log.AnchorLatest(ctx, a)
		require.NoError(t, err)
		forged = append(forged, anc)
	}
	require.NoError(t, verify.AnchorChain(f.keys, forged), "the forged chain is internally valid")
	var heads []ledger.SignedTreeHead
	for i := range chain {
		heads = append(heads, chain[i].Head, forged[i].Head)
	}
	var fe *ledger.ForkError
	require.ErrorAs(t, verify.Heads(f.keys.Log, heads), &fe, "heads kept by the auditor expose the fork")
}

func TestRootBuilder(t *testing.T) {
	var leaves [][]byte
	for n := 0; n <= 70; n++ {
		b := verify.NewRootBuilder()
		for _, l := range leaves {
			b.Add(l)
		}
		require.Equal(t, uint64(n), b.Size())
		require.Equal(t, verify.Root(leaves), b.Root(), "%d leaves", n)
		leaves = append(leaves, []byte{byte(n), 1, 2})
	}
}

// TestAnchorChainRetiredKey: a chain whose first blocks were signed by an earlier anchoring
// key (gxhub's tree-head key, before anchoring had its own) verifies when that key is named
// as retired; a block signed by the retired key after the current key took over does not,
// and a single block or a receipt never accepts the retired key.
func TestAnchorChainRetiredKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	st := memory.New()
	old, err := embedded.New(st, ledgertest.Signer(t, ledgertest.LogKeyName))
	require.NoError(t, err)
	cur, err := embedded.New(st, ledgertest.Signer(t, "anchor"))
	require.NoError(t, err)
	var chain []ledger.Anchor
	for i, k := range []int{2, 3, 5, 1} {
		a := old
		if i >= 2 {
			a = cur
		}
		f.grow(t, k)
		anc, err := f.log.AnchorLatest(ctx, a)
		require.NoError(t, err)
		chain = append(chain, anc)
	}
	keys := f.keys
	require.Error(t, verify.AnchorChain(keys, chain), "old blocks need the retired key")
	keys.Retired = []ledger.Verifier{f.keys.Log}
	require.NoError(t, verify.AnchorChain(keys, chain))
	require.Error(t, verify.Block(keys, chain[0]), "a single block must be the current key's")
	require.NoError(t, verify.Block(keys, chain[3]))

	// The retired key signs again after the switch: refused.
	f.grow(t, 2)
	back, err := f.log.AnchorLatest(ctx, old)
	require.NoError(t, err)
	err = verify.AnchorChain(keys, append(chain, back))
	var ce *ledger.ChainError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, back.Height, ce.Height)
}
