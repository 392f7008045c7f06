package hub_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// TestPullBatchCannotWiden: a batch pull is decided entry by entry exactly as single pulls of
// its subjects are. An insider who packs entries a single pull would refuse — a subject
// without an open case of theirs, a case of another matter or subject, a closed case, a
// revoked or foreign requirement — among allowed ones gets each of them refused with the
// single pull's reason, audited as refused, and the allowed ones served with the same data
// a single pull serves; one signature and one audit record per entry, each bound to the
// signed payload.
// It runs on SQLite and on PostgreSQL (the batch reads cases and records many at a time).
func TestPullBatchCannotWiden(t *testing.T) {
	stores := map[string]func(*config.Config){
		"sqlite": func(*config.Config) {},
		"postgres": func(c *config.Config) {
			c.Store.Driver = "postgres"
			c.Store.PostgresDSN = pgtest.FreshSchemaDSN(t)
		},
	}
	for name, mutate := range stores {
		t.Run(name, func(t *testing.T) { testPullBatchCannotWiden(t, mutate) })
	}
}

func testPullBatchCannotWiden(t *testing.T, mutate func(*config.Config)) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"), mutate)
	a, b, absent, stranger := storetest.IDNumber(11), storetest.IDNumber(12), storetest.IDNumber(13), storetest.IDNumber(14)
	dh.publish(t, "batch-1", a, b, stranger)
	dh.clock.Set(cst("2026-03-02 11:00"))
	dh.openCase(t, "YB-A", matter1, a)
	dh.openCase(t, "YB-B", matter2, b)
	dh.openCase(t, "YB-ABSENT", matter1, absent)
	dh.openCase(t, "YB-CLOSED", matter1, b)
	_, err := dh.c(dh.yubei).Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-CLOSED", Comment: "办结"})
	require.NoError(t, err)
	yb, hubKey := dh.c(dh.yubei), &dh.h.PullKey.PublicKey

	entries := []*exchangev1.PullBatchEntry{
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-A", Subject: a},            // allowed
		{RequirementId: dh.granted, MatterCode: matter2, CaseNumber: "YB-B", Subject: b},            // allowed
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-ABSENT", Subject: absent},  // allowed, no record
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-NONE", Subject: stranger},  // no such case
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-A", Subject: stranger},     // not a party of the case
		{RequirementId: dh.granted, MatterCode: matter2, CaseNumber: "YB-A", Subject: a},            // case of another matter
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-CLOSED", Subject: b},       // closed case
		{RequirementId: dh.revoked, MatterCode: matter1, CaseNumber: "YB-A", Subject: a},            // revoked requirement
		{RequirementId: dh.other, MatterCode: matter1, CaseNumber: "YB-A", Subject: a},              // another department's
		{RequirementId: dh.granted, MatterCode: matter99, CaseNumber: "YB-A", Subject: a},           // purpose not covered
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "", Subject: a},                // no case number
		{RequirementId: "REQ-NONE", MatterCode: matter1, CaseNumber: "YB-A", Subject: a},            // unknown requirement
		{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-A", Subject: "5001121990"}, // invalid subject
	}
	req := &exchangev1.PullBatchRequest{Entries: entries}
	before := dh.auditSize(t)
	resp, err := yb.PullBatch.PullBatch(ctx, req)
	require.NoError(t, err)
	res, err := sdk.VerifyPullBatch(req, resp, hubKey)
	require.NoError(t, err)
	require.Equal(t, dh.yubei.Code, res.GetConsumer())
	digest := sdk.PayloadDigest(&exchangev1.PullResponse{Payload: resp.GetPayload()})

	for i, e := range entries {
		o := res.GetEntries()[i]
		// The same entry as a single pull.
		single, serr := yb.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: e.RequirementId, MatterCode: e.MatterCode, CaseNumber: e.CaseNumber, Subjects: []string{e.Subject}})
		ref := resp.GetAuditReferences()[i]
		require.GreaterOrEqual(t, ref, before)
		rec, err := dh.h.Audit.Log.GetRecord(ctx, ref)
		require.NoError(t, err)
		r := rec.Record
		require.Equal(t, ledger.KindPull, r.Kind)
		require.Equal(t, res.GetBatchId(), r.RequestID)
		require.Equal(t, dh.yubei.Code, r.Department)
		require.Equal(t, e.CaseNumber, r.Case)
		require.Equal(t, dh.h.Audit.SubjectKey(ledger.NormalizeSubject(e.Subject)), r.Subject, "entry %d audited under its own subject", i+1)
		if serr != nil {
			require.False(t, o.GetGranted(), "entry %d: a batch served what a single pull refuses (%v)", i+1, serr)
			require.Equal(t, server.Reason(serr), o.GetReason(), "entry %d: %s", i+1, o.GetMessage())
			require.Nil(t, o.GetResult())
			require.Equal(t, ledger.OutcomeDenied, r.Outcome)
			require.True(t, strings.HasPrefix(r.Reason, o.GetReason()+": "), r.Reason)
			require.Nil(t, r.ResponseDigest)
			continue
		}
		require.True(t, o.GetGranted(), "entry %d refused (%s: %s) though a single pull serves it", i+1, o.GetReason(), o.GetMessage())
		want, err := sdk.VerifyPull(single, hubKey)
		require.NoError(t, err)
		got := o.GetResult()
		require.Equal(t, res.GetBatchId(), got.GetPullId())
		require.Equal(t, want.GetItems(), got.GetItems())
		require.Equal(t, want.GetMaskedItems(), got.GetMaskedItems())
		require.Equal(t, want.GetNotFound(), got.GetNotFound())
		require.Len(t, got.GetRecords(), len(want.GetRecords()))
		for j := range want.GetRecords() {
			require.Equal(t, want.GetRecords()[j].GetFields(), got.GetRecords()[j].GetFields())
			require.Equal(t, want.GetRecords()[j].GetVersion(), got.GetRecords()[j].GetVersion())
			require.True(t, proto.Equal(want.GetRecords()[j].GetVouch(), got.GetRecords()[j].GetVouch()), "entry %d: the same vouch as a single pull", i+1)
		}
		require.Equal(t, ledger.OutcomeGranted, r.Outcome)
		require.Equal(t, digest[:], r.ResponseDigest, "a granted entry's audit record binds the signed batch payload")
	}
	granted := 0
	for _, o := range res.GetEntries() {
		if o.GetGranted() {
			granted++
		}
	}
	require.Equal(t, 3, granted)

	t.Run("whole batch refused and audited", func(t *testing.T) {
		from := dh.auditSize(t)
		big := &exchangev1.PullBatchRequest{}
		for range exchange.MaxPullSubjects + 1 {
			big.Entries = append(big.Entries, entries[0])
		}
		_, err := yb.PullBatch.PullBatch(ctx, big)
		require.Equal(t, "PULL_REQUEST_INVALID", server.Reason(err), "%v", err)
		_, err = yb.PullBatch.PullBatch(ctx, &exchangev1.PullBatchRequest{})
		require.Equal(t, "PULL_REQUEST_INVALID", server.Reason(err), "%v", err)
		got := dh.auditFrom(t, from)
		require.Len(t, got, 2)
		for _, e := range got {
			require.Equal(t, ledger.OutcomeDenied, e.Record.Outcome)
			require.Empty(t, e.Record.Subject)
		}
	})
	t.Run("a tampered answer does not verify", func(t *testing.T) {
		bad := proto.Clone(resp).(*exchangev1.PullBatchResponse)
		bad.Payload[len(bad.Payload)-1] ^= 1
		_, err := sdk.VerifyPullBatch(req, bad, hubKey)
		require.Error(t, err)
		other := proto.Clone(req).(*exchangev1.PullBatchRequest)
		other.Entries[0].Subject = b
		_, err = sdk.VerifyPullBatch(other, resp, hubKey)
		require.Error(t, err, "an answer to other entries than asked")
	})
}
