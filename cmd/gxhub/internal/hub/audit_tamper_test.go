package hub_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
	"github.com/gxhub/gxhub/ledger/sm3hash"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// handlerGet serves one GET through the hub's HTTP handler and returns the body.
func handlerGet(t *testing.T, dh *dataHub, path string) string {
	t.Helper()
	rec := &recorder{header: http.Header{}}
	req, err := http.NewRequest("GET", path, nil)
	require.NoError(t, err)
	dh.h.Handler().ServeHTTP(rec, req)
	return rec.body.String()
}

// TestTamperedAuditLeafIsReported edits audit leaves in the hub's database the way an
// insider would — one leaf row alone, and another leaf row together with its leaf-hash row —
// and checks that GetRecord and GetInclusionProof answer AUDIT_RECORD_TAMPERED (DATA_LOSS,
// not a generic internal error), that a search flags exactly those records, that /readyz
// and the metric name them, and that the finding is itself in the log.
func TestTamperedAuditLeafIsReported(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	subjects := []string{storetest.IDNumber(41), storetest.IDNumber(42), storetest.IDNumber(43), storetest.IDNumber(44)}
	dh.publish(t, "batch-1", subjects...)
	dh.openCase(t, "YB-T-1", matter1, subjects...)
	dh.openCase(t, "YB-T-2", matter1, subjects...)
	resp, err := dh.c(dh.yubei).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-T-1", Subjects: subjects})
	require.NoError(t, err)
	refs := resp.GetAuditReferences()
	require.Len(t, refs, 4)
	// More records after: every leaf edited below has its sibling, so the edited leaf hash
	// sits under a stored node and the other records' proofs do not use it.
	_, err = dh.c(dh.yubei).Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-T-2", Subjects: subjects})
	require.NoError(t, err)
	dh.indexed(t)
	require.Eventually(t, func() bool { // a signed head covers the pulls (inclusion proofs need one)
		h, err := dh.c(dh.yubei).Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
		return err == nil && h.GetTreeSize() > refs[3]
	}, 30*time.Second, 20*time.Millisecond)
	auditor := dh.c(dh.coordinator) // holds the auditor role

	search := func() map[uint64]bool {
		out := map[uint64]bool{}
		r, err := auditor.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{CaseNumber: "YB-T-1", Kind: "pull"})
		require.NoError(t, err)
		require.Len(t, r.GetRecords(), 4)
		for _, rec := range r.GetRecords() {
			out[rec.GetIndex()] = rec.GetTampered()
			if !rec.GetTampered() {
				_, err := sdk.VerifySearchResult(rec)
				require.NoError(t, err)
			} else {
				_, err := sdk.VerifySearchResult(rec)
				require.ErrorContains(t, err, "tampered")
			}
		}
		return out
	}
	require.Equal(t, map[uint64]bool{refs[0]: false, refs[1]: false, refs[2]: false, refs[3]: false}, search(), "nothing is flagged before the edit")
	require.NotContains(t, handlerGet(t, dh, "/readyz"), "TAMPERED")

	db := dh.h.Store.(interface{ DB() *sql.DB }).DB()
	rewrite := func(index uint64, withLeafHash bool) {
		e, err := dh.h.Audit.Log.GetRecord(ctx, index)
		require.NoError(t, err)
		r := e.Record
		r.Case = "YB-T-1"
		r.Reason = "GRANTED: nothing to see" // still a well-formed record, just not the logged one
		leaf, err := r.MarshalBinary()
		require.NoError(t, err)
		var leafHash []byte
		if withLeafHash {
			leafHash = sm3hash.Default.HashLeaf(leaf)
		}
		storetest.RewriteAuditLeafSQL(t, db, dh.h.Audit.LogID, index, leaf, leafHash)
	}
	// A leaf rewritten alone, and one rewritten with its leaf hash (the sibling of a leaf
	// whose hash was rewritten cannot be proven either).
	rewrite(refs[0], false)
	rewrite(refs[3], true)

	for _, idx := range []uint64{refs[0], refs[3]} {
		_, err := auditor.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: idx})
		require.Equal(t, codes.DataLoss, status.Code(err), "record %d: %v", idx, err)
		require.Equal(t, "AUDIT_RECORD_TAMPERED", sdk.Reason(err), "%v", err)
		require.Contains(t, status.Convert(err).Message(), fmt.Sprintf("audit record %d does not match", idx))
		_, err = dh.c(dh.yubei).Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: idx})
		require.Equal(t, "AUDIT_RECORD_TAMPERED", sdk.Reason(err), "%v", err)
	}
	// An untouched record that is not the sibling of the leaf whose hash was rewritten (the
	// pull's records need not be adjacent: other records may fall between them).
	untouched := refs[1]
	if untouched^1 == refs[3] {
		untouched = refs[2]
	}
	_, err = auditor.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: untouched})
	require.NoError(t, err, "an untouched record still reads")

	got := search()
	require.True(t, got[refs[0]], "the search flags the leaf edited alone")
	require.True(t, got[refs[3]], "the search flags the leaf edited with its leaf hash")
	require.False(t, got[untouched])
	flagged := 0
	for _, f := range got {
		if f {
			flagged++
		}
	}

	ready := handlerGet(t, dh, "/readyz")
	require.Contains(t, ready, fmt.Sprintf("audit log: TAMPERED: %d record(s)", flagged))
	require.Contains(t, ready, fmt.Sprint(refs[0]))
	require.Contains(t, ready, fmt.Sprint(refs[3]))
	require.Contains(t, handlerGet(t, dh, "/metrics"), fmt.Sprintf("gxhub_audit_tampered_records %d", flagged))

	// Each finding is appended to the log once, however often the record is read.
	// (Read from storage: the edited leaf's sibling cannot be proven, so GetRecord refuses it.)
	found := map[string]int{}
	size := dh.h.Audit.Log.Size()
	leaves, err := dh.h.Audit.Storage.ReadLeaves(ctx, refs[3]+1, size-refs[3]-1)
	require.NoError(t, err)
	for _, leaf := range leaves {
		var r ledger.Record
		require.NoError(t, r.UnmarshalBinary(leaf))
		if r.Kind == ledgerserver.KindAuditTampered {
			require.Equal(t, ledger.OutcomeFailed, r.Outcome)
			found[r.Resource]++
		}
	}
	require.Len(t, found, flagged)
	require.Equal(t, 1, found[fmt.Sprintf("audit-record:%d", refs[0])])
	require.Equal(t, 1, found[fmt.Sprintf("audit-record:%d", refs[3])])
}
