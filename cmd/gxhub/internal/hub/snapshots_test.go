package hub_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// TestRevocationsSeenAtOnceOnEveryReplica: requirements, catalogue entries, departments
// and certificate statuses are served from memory (server.Snapshots), so an insider might
// hope a replica keeps serving what was revoked elsewhere. Two hubs on one PostgreSQL
// schema: 渝北 pulls through the second (its requirement, resource, department and
// certificate status now cached there); the requirement is revoked through the first —
// and, separately, by hand in the database — and the very next pull through the second is
// refused REQUIREMENT_REVOKED; 渝北's certificate is
// suspended through the first and the very next request through the second is refused.
// No waiting: the refusal must come at the first request after the change.
func TestRevocationsSeenAtOnceOnEveryReplica(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.FreshSchemaDSN(t)
	first := startHub(t, func(c *config.Config) { c.Store.Driver, c.Store.PostgresDSN = "postgres", dsn })
	second := startReplica(t, first, dsn)

	market, _ := first.client(t, 1)
	defer market.Close()
	coord, _ := first.client(t, 0)
	defer coord.Close()
	const resource, matter = "500000-SCJG-SNAP", "500000-SNAP-XK"
	_, err := market.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: &exchangev1.Resource{
		Code: resource, Name: "企业信息", SubjectKind: "id_number", ShareType: "unconditional",
		UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000", ScopeLevel: "provincial",
		Items: []*exchangev1.DataItem{{Name: "name", Title: "姓名", Type: "string", Sensitivity: "public"}}}})
	require.NoError(t, err)
	subject := storetest.IDNumber(300)
	_, err = market.Records.Publish(ctx, &exchangev1.PublishRequest{Resource: resource, BatchId: "snap-1",
		Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: subject, Fields: map[string]string{"name": "测试"}}}})
	require.NoError(t, err)
	yubei := first.identity(t, 7)
	_, err = coord.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: &exchangev1.Matter{Code: matter, Name: "快照测试事项",
		Department: yubei.Code, TimeLimitDays: 5,
		LegalBasis: &exchangev1.LegalBasis{Kind: "administrative_regulation", Title: "优化营商环境条例", Article: "第三十五条"},
		Materials:  []*exchangev1.Material{{Id: "info", Name: "企业信息", Resource: resource, Items: []string{"name"}}}}})
	require.NoError(t, err)

	onSecond, err := sdk.Dial(ctx, yubei, sdk.WithURL(second.url))
	require.NoError(t, err)
	defer onSecond.Close()
	file := func() string {
		f, err := onSecond.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: resource,
			Items: []string{"name"}, MatterCodes: []string{matter}, LegalDuty: "《优化营商环境条例》"})
		require.NoError(t, err)
		require.Equal(t, "granted", f.GetRequirement().GetState())
		return f.GetRequirement().GetId()
	}
	_, err = onSecond.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: "SNAP-1", Matter: matter, Applicant: subject})
	require.NoError(t, err)
	pull := func(rid string) error {
		_, err := onSecond.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: rid, MatterCode: matter, CaseNumber: "SNAP-1", Subjects: []string{subject}})
		return err
	}
	revoke := func(rid string) {
		rq, err := first.h.Store.Requirements().Get(ctx, rid)
		require.NoError(t, err)
		from := rq.State
		rq.State = exchange.ReqRevoked
		require.NoError(t, first.h.Store.Requirements().Decide(ctx, rq, from, exchange.Decision{Seq: len(rq.Decisions) + 1,
			Action: exchange.ActRevoke, By: rq.Provider, At: rq.UpdatedAt}))
	}

	t.Run("requirement revoked through the other replica", func(t *testing.T) {
		rid := file()
		require.NoError(t, pull(rid))
		require.NoError(t, pull(rid)) // served from the second's snapshot now
		revoke(rid)
		require.Equal(t, exchange.ReasonRequirementRevoked, server.Reason(pull(rid)))
	})
	t.Run("requirement revoked by hand in the database", func(t *testing.T) {
		rid := file()
		require.NoError(t, pull(rid))
		db, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		defer db.Close()
		_, err = db.ExecContext(ctx, `UPDATE requirements SET state = 'revoked' WHERE id = $1`, rid)
		require.NoError(t, err)
		require.Equal(t, exchange.ReasonRequirementRevoked, server.Reason(pull(rid)))
	})
	t.Run("certificate suspended through the other replica", func(t *testing.T) {
		_, err := onSecond.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.NoError(t, err)
		_, err = coord.Admin.SuspendCertificate(ctx, &adminv1.SuspendCertificateRequest{Code: yubei.Code})
		require.NoError(t, err)
		_, err = onSecond.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
		require.Equal(t, server.ReasonCertificateSuspended, sdk.Reason(err))
		_, err = coord.Admin.ResumeCertificate(ctx, &adminv1.ResumeCertificateRequest{Code: yubei.Code})
		require.NoError(t, err)
		_, err = onSecond.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.NoError(t, err, "resumed: served again at once")
	})
}
