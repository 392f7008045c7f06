package hub_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/tiles"
	"github.com/gxhub/gxhub/ledger/witness"
)

// TestHubServesTiles: an auditor without the API fetches the checkpoint and the hash
// tiles of a real hub's log, rebuilds the tree and checks it against the checkpoint
// signed with the tree-head key; the records themselves are not published.
func TestHubServesTiles(t *testing.T) {
	ctx := context.Background()
	th := startHub(t, nil)
	lg := th.h.Audit.Log
	for i := 0; i < 300; i++ { // beyond one full tile
		_, err := lg.Append(ctx, ledger.Record{Kind: ledger.KindPolicyChange, Time: time.Now().UTC(), Department: "test", Resource: "tiles", Outcome: ledger.OutcomeOK})
		require.NoError(t, err)
	}
	sth, err := lg.SignHead(ctx)
	require.NoError(t, err)
	key, err := witness.NewKey(th.h.Audit.LogID, witness.TypeCheckpoint, &th.h.SigningKey.PublicKey)
	require.NoError(t, err)
	check := func(note []byte) (uint64, []byte, error) {
		cp, _, err := witness.VerifyCosigned(note, key, nil, 0)
		return cp.Size, cp.Root, err
	}
	v, err := tiles.Verify(ctx, th.http, th.url, check)
	require.NoError(t, err)
	require.Equal(t, sth.Size, v.Size)
	require.Equal(t, sth.Root, v.Root)
	require.GreaterOrEqual(t, v.Tiles, 3, "two level-0 tiles and a level-1 tile at least")

	resp, err := th.http.Get(th.url + "/tile/entries/000")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the records are not public")
}
