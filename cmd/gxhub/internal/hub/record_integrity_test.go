package hub_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestEditedRecordIsRefused is the record-edit attack: with the hub stopped, an insider
// rewrites a published name in the database (UPDATE records SET fields =
// replace(fields,'张建国','王建国')) and restarts the hub. The pull must fail with
// DATA_INTEGRITY (audited, counted, nothing served), while the untouched record of the same
// batch is still served — and before the edit, an auditor checks offline that what the
// consumer received is exactly what the provider published. SQLite and PostgreSQL.
func TestEditedRecordIsRefused(t *testing.T) {
	stores := map[string]func(*config.Config){
		"sqlite": func(*config.Config) {},
		"postgres": func(c *config.Config) {
			c.Store.Driver = "postgres"
			c.Store.PostgresDSN = pgtest.FreshSchemaDSN(t)
		},
	}
	for name, mutate := range stores {
		t.Run(name, func(t *testing.T) { testEditedRecordIsRefused(t, mutate) })
	}
}

func testEditedRecordIsRefused(t *testing.T, mutate func(*config.Config)) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"), mutate)
	a, b := storetest.IDNumber(51), storetest.IDNumber(52)
	_, err := dh.c(dh.police).Records.Publish(ctx, &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "batch-zjg", Changes: []*exchangev1.RecordChange{
		{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: a, Fields: map[string]string{"name": "张建国", "address": "重庆市渝北区龙溪街道", "ethnicity": "汉"}},
		{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: b, Fields: map[string]string{"name": "李红", "address": "重庆市江北区", "ethnicity": "土家"}},
	}})
	require.NoError(t, err)
	dh.openCase(t, "YB-I-1", matter1, a, b)
	// The name in clear text (a personal item is otherwise masked): what is compared below.
	_, err = dh.h.Store.(*sqlstore.Store).DB().ExecContext(ctx, `UPDATE requirements SET clear_text = $1 WHERE id = $2`, `[{"Item":"name"}]`, dh.granted)
	require.NoError(t, err)
	pull := func(c *sdk.Client, subjects ...string) (*exchangev1.PullResponse, error) {
		return c.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-I-1", Subjects: subjects})
	}
	resp, err := pull(dh.c(dh.yubei), a)
	require.NoError(t, err)
	res, err := sdk.VerifyPull(resp, &dh.h.PullKey.PublicKey)
	require.NoError(t, err)
	rec := res.GetRecords()[0]
	require.Equal(t, "张建国", rec.GetFields()["name"])
	require.NotContains(t, rec.GetFields(), "ethnicity", "not approved: served only as a commitment")
	require.Contains(t, rec.GetVouch().GetWithheld(), "ethnicity")

	t.Run("an auditor checks offline that the consumer got what the provider published", func(t *testing.T) {
		receipt, err := dh.c(dh.coordinator).AuditReceipt(ctx, rec.GetVouch().GetPublishRecord())
		require.NoError(t, err)
		pub, err := sdk.VerifyPulledRecord(res, rec, receipt, "")
		require.NoError(t, err)
		require.Equal(t, ledger.KindPublish, pub.Kind)
		require.Equal(t, "batch-zjg", pub.RequestID)

		altered := proto.Clone(rec).(*exchangev1.PulledRecord)
		altered.Fields["name"] = "王建国"
		_, err = sdk.VerifyPulledRecord(res, altered, receipt, "")
		require.ErrorContains(t, err, "not what the provider published")
		hidden := proto.Clone(rec).(*exchangev1.PulledRecord)
		hidden.Vouch.Withheld["ethnicity"][0] ^= 1
		_, err = sdk.VerifyPulledRecord(res, hidden, receipt, "")
		require.Error(t, err, "a withheld item's commitment is bound too")
		other, err := dh.c(dh.coordinator).AuditReceipt(ctx, resp.GetAuditReferences()[0])
		require.NoError(t, err)
		_, err = sdk.VerifyPulledRecord(res, rec, other, "")
		require.ErrorContains(t, err, "vouched for by publish record")
	})

	// The attack, hub stopped.
	dh.stop()
	var st *sqlstore.Store
	if dh.cfg.Store.Driver == "postgres" {
		st, err = postgres.Open(ctx, dh.cfg.Store.PostgresDSN)
	} else {
		st, err = sqlite.Open(ctx, dh.cfg.DataDir)
	}
	require.NoError(t, err)
	_, err = st.DB().ExecContext(ctx, `UPDATE records SET fields = replace(fields,'张建国','王建国')`)
	require.NoError(t, err)
	var n int
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT count(*) FROM records WHERE fields LIKE '%王建国%'`).Scan(&n))
	require.Equal(t, 1, n, "the name was rewritten")
	// And the batch's link to its publish record is lost, as when the hub stops between the
	// publish's audited write and keeping the link: the record is found in the log again.
	_, err = st.DB().ExecContext(ctx, `UPDATE record_batches SET publish_record = NULL WHERE id = 'batch-zjg'`)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	// Restart on the same data.
	h, err := hub.New(ctx, dh.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), hub.WithClock(dh.clock.Now))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Serve(sctx, ln) }()
	id, err := identity.Load(dh.dirs[7], nil)
	require.NoError(t, err)
	require.Equal(t, dh.yubei.Code, id.Code)
	id.HubURL = h.URL(ln.Addr())
	yubei, err := sdk.Dial(ctx, id, sdk.WithClock(dh.clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() {
		yubei.Close()
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, h.Close())
	})

	size := h.Audit.Log.Size()
	_, err = pull(yubei, a)
	require.Error(t, err, "the edited record must not be served")
	require.Equal(t, codes.DataLoss, status.Code(err), "%v", err)
	require.Equal(t, exchange.ReasonDataIntegrity, sdk.Reason(err), "%v", err)
	require.NotContains(t, err.Error(), "王建国")
	require.NotContains(t, err.Error(), a, "the subject stays out of the message (it is audited)")

	e, err := h.Audit.Log.GetRecord(ctx, size)
	require.NoError(t, err, "the refused pull is audited")
	require.Equal(t, ledger.KindPull, e.Record.Kind)
	require.Equal(t, ledger.OutcomeDenied, e.Record.Outcome)
	require.True(t, strings.HasPrefix(e.Record.Reason, exchange.ReasonDataIntegrity+":"), e.Record.Reason)
	require.Contains(t, metricsOf(t, h), "gxhub_data_integrity_failures_total 1")

	resp, err = pull(yubei, b)
	require.NoError(t, err, "the untouched record of the same batch is still served")
	require.Equal(t, "李红", resp.GetResult().GetRecords()[0].GetFields()["name"])
	kept, err := h.Store.Records().Batch(ctx, "batch-zjg")
	require.NoError(t, err)
	require.NotNil(t, kept.PublishRecord, "the link to the publish record is kept again")
	require.Equal(t, rec.GetVouch().GetPublishRecord(), *kept.PublishRecord)
}

func metricsOf(t *testing.T, h *hub.Hub) string {
	t.Helper()
	dh := &dataHub{h: h}
	return handlerGet(t, dh, "/metrics")
}
