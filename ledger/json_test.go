package ledger_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/verify"
)

// TestSignedHeadSurvivesJSON checks that a signed head handed out as JSON
// (how the SDK receives it) still verifies, including its time.
func TestSignedHeadSurvivesJSON(t *testing.T) {
	h := ledger.TreeHead{LogID: "test/log", Size: 7, Root: make([]byte, 32),
		Time: time.Date(2026, 11, 21, 8, 0, 0, 123456000, time.FixedZone("CST", 8*3600))}
	msg, err := h.SignedBytes()
	require.NoError(t, err)
	s := ledgertest.Signer(t, "json")
	sig, err := s.Sign(context.Background(), msg)
	require.NoError(t, err)
	sth := ledger.SignedTreeHead{TreeHead: h, KeyID: s.KeyID(), Signature: sig}
	b, err := json.Marshal(sth)
	require.NoError(t, err)
	var back ledger.SignedTreeHead
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, verify.Head(ledgertest.Verifier(t, "json"), back))
}
