package log_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/embedded"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/memory"
)

// A store rolled back behind its anchor (restored from an older backup), or rewritten,
// is refused by CheckAnchored; one that extends the anchored head passes.
func TestCheckAnchored(t *testing.T) {
	ctx := context.Background()
	leaves := func(from, to int) [][]byte {
		var out [][]byte
		for i := from; i < to; i++ {
			out = append(out, leafOf(t, i))
		}
		return out
	}
	anchors := memory.New()
	anch, err := embedded.New(anchors, ledgertest.Signer(t, ledgertest.LogKeyName))
	require.NoError(t, err)
	live := newLog(t, rebuild(t, leaves(0, 10)), nil)
	require.NoError(t, live.CheckAnchored(ctx, anch), "nothing anchored yet")
	_, err = live.SignHead(ctx)
	require.NoError(t, err)
	_, err = live.AnchorLatest(ctx, anch)
	require.NoError(t, err)
	require.NoError(t, live.CheckAnchored(ctx, anch))

	grown := newLog(t, rebuild(t, leaves(0, 14)), nil)
	require.NoError(t, grown.CheckAnchored(ctx, anch), "the anchored head is a prefix")

	behind := newLog(t, rebuild(t, leaves(0, 6)), nil)
	err = behind.CheckAnchored(ctx, anch)
	require.ErrorIs(t, err, ledger.ErrVerification)
	require.ErrorContains(t, err, "covers 10 records but the log holds 6: records 6…9 are missing")

	other := leaves(0, 12)
	other[3] = leafOf(t, 99)
	rewritten := newLog(t, rebuild(t, other), nil)
	err = rewritten.CheckAnchored(ctx, anch)
	require.ErrorIs(t, err, ledger.ErrVerification)
	require.ErrorContains(t, err, "not an extension of the head anchored in block 1")

	h, err := live.SignHead(ctx)
	require.NoError(t, err)
	require.NoError(t, grown.CheckHead(ctx, h.TreeHead, "the backup's head"))
	require.ErrorContains(t, behind.CheckHead(ctx, h.TreeHead, "the backup's head"), "missing")
}
