package hub_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/ledger"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// auditOfKind returns the records of one kind in a hub's audit log, oldest first.
func auditOfKind(t testing.TB, h *hub.Hub, kind ledger.Kind) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	for i := uint64(0); ; i++ {
		e, err := h.Audit.Log.GetRecord(context.Background(), i)
		if errors.Is(err, ledger.ErrNotFound) {
			return out
		}
		require.NoError(t, err)
		// The demo's own seeding (audited writes of the hub) is not what the tests look for.
		if e.Record.Kind == kind && !(e.Record.Department == exchange.SystemActor && strings.HasPrefix(e.Record.Reason, "demo ")) {
			out = append(out, e.Record)
		}
	}
}

func (eh *exchangeHub) auditKinds(t testing.TB, kind ledger.Kind) []ledger.Record {
	return auditOfKind(t, eh.h, kind)
}

// lastAudit returns the newest record of kind.
func (eh *exchangeHub) lastAudit(t testing.TB, kind ledger.Kind) ledger.Record {
	t.Helper()
	rs := eh.auditKinds(t, kind)
	require.NotEmpty(t, rs, "no %s audit record", kind)
	return rs[len(rs)-1]
}

// Demo companies (hub.seedDemoRecords) and a demo resident.
const (
	companyA = "91500000MA5U000010" // 重庆渝北示例科技有限公司
	companyB = "91500000MA5U000023" // 重庆山城示例餐饮管理有限公司
)

// wildcardAllow is the rule an insider with the coordinator's key adds to let anything
// through: priority 1, every field a wildcard, allow.
var wildcardAllow = &exchangev1.PolicyRule{Ptype: "p", Fields: []string{"1", "*", "*", "*", "pull", "*", "*", "*", "*", "*", "*", "*", "allow", "ANYTHING_GOES"}}

// TestPullBypassAttempts runs, against a real hub on SQLite and on PostgreSQL, each way an
// insider tried to get around the exchange's legal rules (issue: a wildcard allow rule, a
// unilateral catalogue edit, a free-text legal basis, an unregistered matter, someone
// else's case …). Each attempt is refused with its stable reason and leaves an audit record;
// the pull attempts are made with and without the wildcard allow rule in the policy.
func TestPullBypassAttempts(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) { testPullBypassAttempts(t, pg) })
	}
}

func testPullBypassAttempts(t *testing.T, postgres bool) {
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(t, clk, postgres)
	ctx := context.Background()
	yubei, fund, market, coord := eh.c(t, dYubei), eh.c(t, dFund), eh.c(t, dMarket), eh.c(t, dCoordinator)

	// 渝北 holds a granted requirement for 营业执照信息 (name, legal_representative) for its
	// matter 500112-YB-0001 and handles case YB-1 for company A; 公积金 handles GJJ-1.
	f, err := yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-SCJG-0001",
		Items: []string{"name", "legal_representative"}, MatterCodes: []string{"500112-YB-0001"}, LegalDuty: "《优化营商环境条例》第三十五条"})
	require.NoError(t, err)
	require.Equal(t, "granted", f.GetRequirement().GetState())
	rq := f.GetRequirement().GetId()
	open := func(c *sdk.Client, number, matter, applicant string) {
		_, err := c.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: number, Matter: matter, Applicant: applicant})
		require.NoError(t, err)
	}
	open(yubei, "YB-1", "500112-YB-0001", companyA)
	open(yubei, "YB-2", "500112-YB-0002", companyA)
	open(yubei, "YB-CLOSED", "500112-YB-0001", companyA)
	_, err = yubei.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-CLOSED", Comment: "办结"})
	require.NoError(t, err)
	open(fund, "GJJ-1", "500000-GJJ-0001", "500112198503120019")
	ok := func() *exchangev1.PullRequest {
		return &exchangev1.PullRequest{RequirementId: rq, MatterCode: "500112-YB-0001", CaseNumber: "YB-1", Subjects: []string{companyA}}
	}
	_, err = yubei.Pulls.Pull(ctx, ok())
	require.NoError(t, err, "the legitimate pull works")

	pulls := []struct {
		name   string
		by     *sdk.Client
		mut    func(*exchangev1.PullRequest)
		reason string
	}{
		{"foreign requirement", fund, func(r *exchangev1.PullRequest) { r.CaseNumber = "GJJ-1" }, exchange.ReasonRequirementForeign},
		{"uncovered matter", yubei, func(r *exchangev1.PullRequest) { r.MatterCode, r.CaseNumber = "500112-YB-0002", "YB-2" }, exchange.ReasonPurposeNotCovered},
		{"unapproved item", yubei, func(r *exchangev1.PullRequest) { r.Items = []string{"name", "address"} }, exchange.ReasonDataItemNotApproved},
		{"unregistered matter", yubei, func(r *exchangev1.PullRequest) { r.MatterCode = "999-NOT-COVERED" }, exchange.ReasonMatterUnknown},
		{"case that does not exist", yubei, func(r *exchangev1.PullRequest) { r.CaseNumber = "z" }, exchange.ReasonCaseNotFound},
		{"case of another department", yubei, func(r *exchangev1.PullRequest) { r.CaseNumber = "GJJ-1" }, exchange.ReasonCaseForeign},
		{"subject not in the case", yubei, func(r *exchangev1.PullRequest) { r.Subjects = []string{companyA, companyB} }, exchange.ReasonCaseSubjectMismatch},
		{"pull after close", yubei, func(r *exchangev1.PullRequest) { r.CaseNumber = "YB-CLOSED" }, exchange.ReasonCaseClosed},
		{"everything at once (the issue's attempt)", fund, func(r *exchangev1.PullRequest) {
			r.MatterCode, r.CaseNumber, r.Items = "999-NOT-COVERED", "z", []string{"address"}
		}, exchange.ReasonRequirementForeign},
	}
	attempt := func(t *testing.T, by *sdk.Client, req *exchangev1.PullRequest, reason string) {
		t.Helper()
		n := len(eh.auditKinds(t, ledger.KindPull))
		_, err := by.Pulls.Pull(ctx, req)
		requireReason(t, err, codeOf(reason), reason)
		recs := eh.auditKinds(t, ledger.KindPull)
		require.Len(t, recs, n+len(req.GetSubjects()), "one audit record per subject")
		last := recs[len(recs)-1]
		require.Equal(t, ledger.OutcomeDenied, last.Outcome)
		require.True(t, strings.HasPrefix(last.Reason, reason+": "), last.Reason)
		require.Equal(t, req.GetCaseNumber(), last.Case)
		require.Equal(t, req.GetMatterCode(), last.Matter)
		require.Nil(t, last.ResponseDigest, "nothing was answered")
	}
	for _, tc := range pulls {
		t.Run("without wildcard/"+tc.name, func(t *testing.T) {
			req := ok()
			tc.mut(req)
			attempt(t, tc.by, req, tc.reason)
		})
	}

	// The insider adds the wildcard allow rule; the invariants hold all the same.
	pol, err := coord.Policy.GetPolicy(ctx, &exchangev1.GetPolicyRequest{})
	require.NoError(t, err)
	_, err = coord.Policy.ChangePolicy(ctx, &exchangev1.ChangePolicyRequest{ExpectVersion: pol.GetVersion(), Add: []*exchangev1.PolicyRule{wildcardAllow}, Comment: "ANYTHING_GOES"})
	require.NoError(t, err)
	eh.h.Decider.Invalidate()
	for _, tc := range pulls {
		t.Run("with wildcard/"+tc.name, func(t *testing.T) {
			req := ok()
			tc.mut(req)
			attempt(t, tc.by, req, tc.reason)
		})
	}
	_, err = yubei.Pulls.Pull(ctx, ok())
	require.NoError(t, err)

	t.Run("unregistered matter in a requirement", func(t *testing.T) {
		_, err := yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-SCJG-0001",
			Items: []string{"name"}, MatterCodes: []string{"999999-XX-0001"}, LegalDuty: "《优化营商环境条例》第三十五条"})
		requireReason(t, err, codes.InvalidArgument, exchange.ReasonMatterUnknown)
		last := eh.lastAudit(t, ledger.KindRequirementDecision)
		require.Equal(t, ledger.OutcomeDenied, last.Outcome)
		require.Equal(t, "999999-XX-0001", last.Matter)
		require.True(t, strings.HasPrefix(last.Reason, exchange.ReasonMatterUnknown+": "), last.Reason)
		_, err = yubei.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: "YB-X", Matter: "999999-XX-0001", Applicant: companyA})
		requireReason(t, err, codes.InvalidArgument, exchange.ReasonMatterUnknown)
	})

	t.Run("free-text legal basis", func(t *testing.T) {
		cur, err := market.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: "500000-SCJG-0001"})
		require.NoError(t, err)
		for basis, reason := range map[string]string{"": "LEGAL_BASIS_REQUIRED", "x": "LEGAL_BASIS_KIND_INVALID",
			"rule:x:第一条": "LEGAL_BASIS_TITLE_INVALID", "law:中华人民共和国个人信息保护法:": "LEGAL_BASIS_ARTICLE_MISSING"} {
			next := cloneResource(cur)
			next.ShareType, next.LegalBasis = "not_shared", basisOf(basis)
			if basis == "x" {
				next.LegalBasis = &exchangev1.LegalBasis{Title: "x"}
			}
			_, err = market.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: next})
			requireReason(t, err, codes.InvalidArgument, reason)
			last := eh.lastAudit(t, server.KindCatalogChange)
			require.Equal(t, ledger.OutcomeDenied, last.Outcome)
			require.True(t, strings.HasPrefix(last.Reason, reason+": "), last.Reason)
		}
		now, err := market.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: "500000-SCJG-0001"})
		require.NoError(t, err)
		require.Equal(t, cur.GetVersion(), now.GetVersion(), "nothing was stored")
	})

	t.Run("unilateral narrowing becomes the coordinator's decision", func(t *testing.T) {
		cur, err := market.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: "500000-SCJG-0001"})
		require.NoError(t, err)
		next := cloneResource(cur)
		next.ShareType, next.LegalBasis = "not_shared", basisOf("规章:重庆市公共数据管理办法:第二十条")
		resp, err := market.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: next})
		require.NoError(t, err)
		p := resp.GetProposal()
		require.NotNil(t, p, "narrowing a resource with granted requirements is a proposal")
		require.Equal(t, "pending", p.GetState())
		require.Contains(t, p.GetAffected(), rq)
		require.Equal(t, cur.GetVersion(), resp.GetResource().GetVersion(), "the resource is unchanged")
		require.Equal(t, "unconditional", resp.GetResource().GetShareType())
		last := eh.lastAudit(t, server.KindCatalogProposal)
		require.Equal(t, p.GetId(), last.RequestID)
		require.True(t, strings.HasPrefix(last.Reason, "propose → pending"), last.Reason)

		_, err = yubei.Pulls.Pull(ctx, ok())
		require.NoError(t, err, "the granted requirement keeps working until the decision takes effect")
		r, err := yubei.Requirements.GetRequirement(ctx, &exchangev1.GetRequirementRequest{Id: rq})
		require.NoError(t, err)
		require.Equal(t, "granted", r.GetState())
		notice := r.GetDecisions()[len(r.GetDecisions())-1]
		require.Equal(t, string(exchange.ActCatalogNotice), notice.GetAction())
		require.Contains(t, notice.GetComment(), p.GetId(), "the consumer sees the proposal in its requirement's history")

		again := cloneResource(cur)
		again.Description = "再改一次"
		_, err = market.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: again})
		requireReason(t, err, codes.FailedPrecondition, "RESOURCE_CHANGE_PENDING")
		_, err = market.Catalog.DecideProposal(ctx, &exchangev1.DecideProposalRequest{Id: p.GetId(), Action: "approve"})
		requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")

		d, err := coord.Catalog.DecideProposal(ctx, &exchangev1.DecideProposalRequest{Id: p.GetId(), Action: "approve", Comment: "依据充分"})
		require.NoError(t, err)
		require.Equal(t, "approved", d.GetProposal().GetState())
		require.Equal(t, cur.GetVersion()+1, d.GetResource().GetVersion())
		require.Equal(t, "not_shared", d.GetResource().GetShareType())
		require.Equal(t, "《重庆市公共数据管理办法》第二十条（规章）", d.GetResource().GetLegalBasis().GetCitation())
		attempt(t, yubei, ok(), exchange.ReasonNotShared)
		r, err = yubei.Requirements.GetRequirement(ctx, &exchangev1.GetRequirementRequest{Id: rq})
		require.NoError(t, err)
		require.Contains(t, r.GetDecisions()[len(r.GetDecisions())-1].GetComment(), "approved proposal "+p.GetId())
		changes := eh.auditKinds(t, server.KindCatalogChange)
		require.Contains(t, changes[len(changes)-1].Reason, "approved by the coordinator")
	})

	t.Run("the auditor sees the attempts", func(t *testing.T) {
		an, err := eh.c(t, dCoordinator).Audit.ListAnomalies(ctx, &auditv1.ListAnomaliesRequest{From: timestamppb.New(clk.Now().Add(-time.Hour)), To: timestamppb.New(clk.Now().Add(time.Hour))})
		require.NoError(t, err)
		var mismatches int
		for _, a := range an.GetAnomalies() {
			if a.GetRule() == ledgerserver.RuleCaseSubjectMismatch {
				mismatches++
				require.Equal(t, "YB-1", a.GetCaseNumber())
			}
		}
		require.Equal(t, 2, mismatches, "the subject-outside-the-case attempts, with and without the wildcard rule")
	})
}

// codeOf is the gRPC code a pull refusal carries.
func codeOf(reason string) codes.Code {
	switch reason {
	case "SUBJECT_INVALID", "SUBJECTS_INVALID", exchange.ReasonCaseNumberMissing:
		return codes.InvalidArgument
	}
	return codes.PermissionDenied
}

func cloneResource(r *exchangev1.Resource) *exchangev1.Resource {
	c := proto.Clone(r).(*exchangev1.Resource)
	c.UpdatedAt, c.UpdatedBy, c.PublishedAt = nil, "", nil
	return c
}
