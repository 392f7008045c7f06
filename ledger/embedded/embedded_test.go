package embedded_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/memory"
)

func newAnchorer(t *testing.T) ledger.Anchorer {
	a, err := embedded.New(memory.New(), ledgertest.Signer(t, "anchor"),
		embedded.WithHeadVerifier(ledgertest.Verifier(t, ledgertest.LogKeyName)))
	require.NoError(t, err)
	return a
}

func TestAnchorerConformance(t *testing.T) {
	ledgertest.RunAnchorer(t, newAnchorer, ledgertest.WithAnchorKey(ledgertest.Verifier(t, "anchor")))
}

func TestRefusesBadHeadSignature(t *testing.T) {
	ctx := context.Background()
	a := newAnchorer(t)
	signer := ledgertest.Signer(t, "someone-else")
	head := ledger.TreeHead{LogID: "test/log", Size: 0, Root: make([]byte, 32), Time: ledgertest.Record(0).Time}
	msg, err := head.SignedBytes()
	require.NoError(t, err)
	sig, err := signer.Sign(ctx, msg)
	require.NoError(t, err)
	_, err = a.Anchor(ctx, ledger.SignedTreeHead{TreeHead: head, KeyID: ledgertest.Verifier(t, ledgertest.LogKeyName).KeyID(), Signature: sig}, nil)
	require.ErrorIs(t, err, ledger.ErrVerification)
	_, err = a.Latest(ctx)
	require.ErrorIs(t, err, ledger.ErrNotFound)
}
