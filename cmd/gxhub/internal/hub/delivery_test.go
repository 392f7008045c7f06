package hub_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// follow collects a subscription until it is caught up.
func (dh *dataHub) followAll(t *testing.T, req *exchangev1.SubscribeRequest) []*sdk.Change {
	t.Helper()
	req.UntilCaughtUp = true
	var out []*sdk.Change
	for ch, err := range dh.c(dh.yubei).Follow(context.Background(), req, &dh.h.PullKey.PublicKey) {
		require.NoError(t, err)
		out = append(out, ch)
	}
	return out
}

// TestSubscriptionServesTheChangedVersion: a subscriber that follows (or resumes) after
// several versions were published gets each change with the version it created, in order,
// not the newest version again; a deletion is delivered as such.
func TestSubscriptionServesTheChangedVersion(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	rid := dh.subscriptionRequirement(t, "REQ-YB-SUB")
	a := storetest.IDNumber(51)
	dh.openCase(t, "YB-V-1", matter1, a)
	dh.publish(t, "v-1", a)
	dh.publish(t, "v-2", a)
	dh.publish(t, "v-3", a)
	_, err := dh.c(dh.police).Records.Publish(ctx, &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "v-4",
		Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_DELETE, Subject: a}}})
	require.NoError(t, err)

	got := dh.followAll(t, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-V-1"})
	require.Len(t, got, 4)
	for i, ch := range got[:3] {
		require.Equal(t, int64(i+1), ch.ChangeVersion)
		require.Len(t, ch.Result.GetRecords(), 1)
		rec := ch.Result.GetRecords()[0]
		require.Equal(t, ch.ChangeVersion, rec.GetVersion(), "the version the change created, not the newest")
		require.Equal(t, []string{"v-1", "v-2", "v-3"}[i], rec.GetBatchId())
		if i > 0 {
			require.Greater(t, ch.Cursor, got[i-1].Cursor)
		}
	}
	require.Equal(t, int64(4), got[3].ChangeVersion)
	require.Empty(t, got[3].Result.GetRecords())
	require.Equal(t, []string{a}, got[3].Result.GetNotFound(), "the deletion is delivered as one")

	// Resuming after the first change gives the later versions, each once.
	again := dh.followAll(t, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-V-1", After: got[0].Cursor})
	require.Len(t, again, 3)
	require.Equal(t, int64(2), again[0].Result.GetRecords()[0].GetVersion())
	require.Equal(t, got[1].IdempotencyKey, again[0].IdempotencyKey)
}

// TestWholeResourceSubscription: without a case, a subscription under a requirement whose
// scope covers the whole resource follows every subject's changes, each served like a pull
// (approved items, masked, signed, one audit record per delivery without a case); a
// narrower scope or another provision method is refused.
func TestWholeResourceSubscription(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	rid := dh.subscriptionRequirement(t, "REQ-YB-SUB")
	a, b := storetest.IDNumber(61), storetest.IDNumber(62)
	dh.publish(t, "w-1", a, b)
	dh.publish(t, "w-2", a)
	before := dh.auditSize(t)

	got := dh.followAll(t, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1})
	require.Len(t, got, 3)
	require.Equal(t, []string{a, b, a}, []string{got[0].Subject, got[1].Subject, got[2].Subject})
	require.Equal(t, []int64{1, 1, 2}, []int64{got[0].Result.GetRecords()[0].GetVersion(), got[1].Result.GetRecords()[0].GetVersion(), got[2].Result.GetRecords()[0].GetVersion()})
	for _, ch := range got {
		require.Empty(t, ch.Result.GetCaseNumber())
		require.Equal(t, map[string]string{"name": "***", "address": "重庆市渝北区***"}, ch.Result.GetRecords()[0].GetFields())
		require.NotContains(t, string(ch.Response.GetPayload()), "土家")
		require.Len(t, ch.Response.GetAuditReferences(), 1)
		e, err := dh.h.Audit.Log.GetRecord(ctx, ch.Response.GetAuditReferences()[0])
		require.NoError(t, err)
		require.GreaterOrEqual(t, e.Index, before)
		require.Equal(t, ledger.KindPull, e.Record.Kind)
		require.Equal(t, ledger.OutcomeGranted, e.Record.Outcome)
		require.Equal(t, dh.h.Audit.SubjectKey(ch.Subject), e.Record.Subject)
		require.Empty(t, e.Record.Case)
		digest := sdk.PayloadDigest(ch.Response)
		require.Equal(t, digest[:], e.Record.ResponseDigest)
	}

	narrow := dh.storeRequirement(t, "REQ-YB-SUB-NARROW", func(r *exchange.Requirement) {
		r.Items, r.ProvisionMethod, r.ScopeRegion = []string{"name"}, exchange.ProvisionSubscription, "500112"
	})
	for _, tc := range []struct{ rid, reason string }{{narrow, exchange.ReasonScopeMismatch}, {dh.granted, exchange.ReasonProvisionMethod}} {
		refused := 0
		for _, err := range dh.c(dh.yubei).Follow(ctx, &exchangev1.SubscribeRequest{RequirementId: tc.rid, MatterCode: matter1, UntilCaughtUp: true}, &dh.h.PullKey.PublicKey) {
			require.Error(t, err)
			require.Equal(t, tc.reason, sdk.Reason(err), err.Error())
			refused++
		}
		require.Equal(t, 1, refused)
	}
}

// TestFreshnessAlertsPushed: a provider following its alerts is sent the resources stale
// now, then a resource that goes past its limit (measured again at the next heartbeat),
// then the same resource fresh again once published; a department without the provider
// role is refused.
func TestFreshnessAlertsPushed(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00")) // a Monday
	dh.publish(t, "fr-1", storetest.IDNumber(71))
	police := dh.c(dh.police)

	var initial []*exchangev1.FreshnessAlert
	for al, err := range police.FollowAlerts(ctx, &exchangev1.FollowAlertsRequest{UntilCaughtUp: true}) {
		require.NoError(t, err)
		require.Equal(t, server.AlertStale, al.GetState())
		require.Equal(t, dh.police.Code, al.GetFreshness().GetProvider(), "only the caller's resources")
		require.NotEqual(t, dh.resource, al.GetFreshness().GetResource(), "just published: fresh")
		initial = append(initial, al)
	}

	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	alerts := make(chan *exchangev1.FreshnessAlert, 64)
	ended := make(chan error, 1)
	go func() {
		for al, err := range police.FollowAlerts(followCtx, &exchangev1.FollowAlertsRequest{}) {
			if err != nil {
				ended <- err
				return
			}
			alerts <- al
		}
		ended <- nil
	}()
	next := func() *exchangev1.FreshnessAlert {
		t.Helper()
		select {
		case al := <-alerts:
			return al
		case err := <-ended:
			t.Fatalf("the alert stream ended: %v", err)
		}
		return nil
	}
	for range initial {
		require.Equal(t, server.AlertStale, next().GetState())
	}
	waitFor := func(resource, state string) *exchangev1.FreshnessAlert {
		t.Helper()
		for {
			if al := next(); al.GetFreshness().GetResource() == resource && al.GetState() == state {
				return al
			}
		}
	}

	// Three working days later a heartbeat of another resource makes the hub measure again.
	dh.clock.Set(cst("2026-03-05 12:00"))
	_, err := police.Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: "500000-GA-TEST-ZW"})
	require.NoError(t, err)
	stale := waitFor(dh.resource, server.AlertStale)
	require.True(t, stale.GetFreshness().GetStale())

	dh.publish(t, "fr-2", storetest.IDNumber(72))
	fresh := waitFor(dh.resource, server.AlertFresh)
	require.False(t, fresh.GetFreshness().GetStale())
	stop()

	refused := 0
	for _, err := range dh.c(dh.yubei).FollowAlerts(ctx, &exchangev1.FollowAlertsRequest{UntilCaughtUp: true}) {
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
		refused++
	}
	require.Equal(t, 1, refused)
}

// TestFreshnessAlertWebhook: a provider's webhook registered for freshness alerts is
// pushed, signed by the hub, the resource going stale and fresh again, with the key the hub
// names; a consumer-only department cannot register one, nor one that names a case.
func TestFreshnessAlertWebhook(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	dh.publish(t, "fa-1", storetest.IDNumber(81))
	hubKey := &dh.h.PullKey.PublicKey
	got := make(chan *exchangev1.FreshnessAlert, 64)
	bad := make(chan string, 8)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a, err := sdk.VerifyAlertWebhook(body, r.Header.Get(server.WebhookSignatureHeader), hubKey)
		if err != nil || r.Header.Get(server.WebhookIdempotencyHeader) != server.AlertIdempotencyKey(r.Header.Get(server.WebhookIDHeader), a) {
			bad <- fmt.Sprint(err, r.Header.Get(server.WebhookIdempotencyHeader))
			http.Error(w, "bad alert", http.StatusBadRequest)
			return
		}
		got <- a
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	before := dh.auditSize(t)
	wh, err := dh.c(dh.police).Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{FreshnessAlerts: true, Url: srv.URL, TlsCaPem: caPEM})
	require.NoError(t, err)
	require.True(t, wh.GetFreshnessAlerts())
	found := false
	for _, e := range dh.auditFrom(t, before) {
		found = found || (e.Record.Kind == server.KindWebhook && e.Record.Department == dh.police.Code && e.Record.RequestID == wh.GetId())
	}
	require.True(t, found, "the registration is audited")

	next := func() *exchangev1.FreshnessAlert {
		t.Helper()
		select {
		case a := <-got:
			return a
		case b := <-bad:
			t.Fatalf("an alert did not verify: %s", b)
		}
		return nil
	}
	waitFor := func(resource, state string) *exchangev1.FreshnessAlert {
		t.Helper()
		for {
			if a := next(); a.GetFreshness().GetResource() == resource && a.GetState() == state {
				return a
			}
		}
	}
	dh.clock.Set(cst("2026-03-05 12:00"))
	_, err = dh.c(dh.police).Freshness.Heartbeat(ctx, &exchangev1.HeartbeatRequest{Resource: "500000-GA-TEST-ZW"})
	require.NoError(t, err)
	require.True(t, waitFor(dh.resource, server.AlertStale).GetFreshness().GetStale())
	dh.publish(t, "fa-2", storetest.IDNumber(82))
	require.False(t, waitFor(dh.resource, server.AlertFresh).GetFreshness().GetStale())

	_, err = dh.c(dh.yubei).Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{FreshnessAlerts: true, Url: srv.URL, TlsCaPem: caPEM})
	requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
	_, err = dh.c(dh.police).Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{FreshnessAlerts: true, CaseNumber: "YB-1", Url: srv.URL, TlsCaPem: caPEM})
	requireReason(t, err, codes.InvalidArgument, "WEBHOOK_REQUEST_INVALID")
}
