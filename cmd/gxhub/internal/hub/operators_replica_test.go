package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

// TestOperatorRevokedOnEveryReplica: two hubs on one PostgreSQL schema. An operator enrolled
// through the first acts through the second; the request it signed there is the evidence
// the first serves; revoked through the first, it is refused at its very next request on
// the second (operators are read from the store at every request, never cached).
func TestOperatorRevokedOnEveryReplica(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.FreshSchemaDSN(t)
	first := startHub(t, func(c *config.Config) { c.Store.Driver, c.Store.PostgresDSN = "postgres", dsn })
	second := startReplica(t, first, dsn)
	admin, _ := first.client(t, 7) // 渝北's own key acts as its admin
	op := enrolOperator(t, admin, "张三", "operator")
	onSecond, err := sdk.Dial(ctx, op, sdk.WithURL(second.url))
	require.NoError(t, err)
	defer onSecond.Close()
	me, err := onSecond.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, err)
	require.Equal(t, op.Operator, me.GetCertificateSerial())

	_, err = admin.Operators.ChangeOperatorStatus(ctx, &adminv1.ChangeOperatorStatusRequest{Serial: op.Operator,
		Status: adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED, Reason: "key lost"})
	require.NoError(t, err)
	_, err = onSecond.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	require.Equal(t, server.ReasonOperatorRevoked, sdk.Reason(err))

	// The revocation's audit record, appended by the first, commits to the admin's signed
	// request, which the second serves from the shared store.
	sj, _ := first.client(t, 6) // 审计局, auditor
	found, err := sj.Audit.SearchRecords(ctx, &auditv1.SearchRecordsRequest{Kind: string(server.KindOperatorStatus)})
	require.NoError(t, err)
	require.Len(t, found.GetRecords(), 1)
	sjOnSecond, err := sdk.Dial(ctx, first.identity(t, 6), sdk.WithURL(second.url))
	require.NoError(t, err)
	defer sjOnSecond.Close()
	var r *sdk.AuditReceipt
	require.Eventually(t, func() bool { // the second learns of the first's appends when it next reads the log
		r, err = sjOnSecond.AuditReceipt(ctx, found.GetRecords()[0].GetIndex())
		return err == nil
	}, time.Minute, 50*time.Millisecond, "the second replica serves the receipt")
	rec, err := sdk.VerifyAuditReceipt(r, "")
	require.NoError(t, err)
	who, err := sdk.VerifyRequestEvidence(rec, r.Request, first.h.CA.RootPEM())
	require.NoError(t, err)
	require.Equal(t, admin.Identity().Code, who.Department)
	require.Empty(t, who.Operator, "the department's own key signed the revocation")
}
