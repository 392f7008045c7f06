package hub_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	ledgerserver "github.com/gxhub/gxhub/ledger/server"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func (dh *dataHub) dataAudit(t testing.TB, kind ledger.Kind) []ledger.Record {
	return auditOfKind(t, dh.h, kind)
}

// TestCaseLifecycleAndAnomalies: a case's steps are signed, audited and visible to the
// department, the coordinator and auditors only; the auditor's anomaly flags cover cases
// pulling many subjects and cases open far beyond their matter's time limit.
func TestCaseLifecycleAndAnomalies(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	yubei, coord, police := dh.c(dh.yubei), dh.c(dh.coordinator), dh.c(dh.police)
	people := []string{storetest.IDNumber(51), storetest.IDNumber(52), storetest.IDNumber(53), storetest.IDNumber(54)}
	dh.publish(t, "case-1", people...)

	opened, err := yubei.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: "YB-FAMILY-1", Matter: matter1, Applicant: people[0],
		Parties: []*exchangev1.Party{{Subject: people[1], Relation: "配偶"}, {Subject: people[2], Relation: "子女"}, {Subject: people[3], Relation: "父亲"}}})
	require.NoError(t, err)
	c := opened.GetCase()
	require.Equal(t, "open", c.GetState())
	require.Equal(t, "500112", c.GetRegion())
	require.Equal(t, "配偶", c.GetParties()[0].GetRelation())
	require.Equal(t, "id_number", c.GetParties()[0].GetKind())
	require.Contains(t, c.GetHistory()[0].GetEvidence(), "GXHUB-SM2 ")
	rec := dh.dataAudit(t, server.KindCase)
	require.Len(t, rec, 1)
	require.Equal(t, "YB-FAMILY-1", rec[0].Case)
	require.Equal(t, dh.h.Audit.SubjectKey(people[0]), rec[0].Subject, "the applicant as keyed hash")
	require.Contains(t, rec[0].Reason, "open: matter "+matter1)

	t.Run("visibility", func(t *testing.T) {
		_, err := police.Cases.GetCase(ctx, &exchangev1.GetCaseRequest{Number: "YB-FAMILY-1"})
		requireReason(t, err, codes.PermissionDenied, "NOT_INVOLVED")
		got, err := coord.Cases.GetCase(ctx, &exchangev1.GetCaseRequest{Number: "YB-FAMILY-1"})
		require.NoError(t, err, "the coordinator monitors every case")
		require.Len(t, got.GetHistory(), 1)
		l, err := police.Cases.ListCases(ctx, &exchangev1.ListCasesRequest{})
		require.NoError(t, err)
		require.Empty(t, l.GetCases(), "a department lists its own cases")
		_, err = police.Cases.ListCases(ctx, &exchangev1.ListCasesRequest{Department: dh.yubei.Code})
		requireReason(t, err, codes.PermissionDenied, "NOT_INVOLVED")
		l, err = coord.Cases.ListCases(ctx, &exchangev1.ListCasesRequest{Department: dh.yubei.Code, State: "open"})
		require.NoError(t, err)
		require.Len(t, l.GetCases(), 1)
		_, err = coord.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-FAMILY-1"})
		requireReason(t, err, codes.PermissionDenied, "NOT_CASE_DEPARTMENT")
	})

	// The family is pulled in one batch pull: four subjects of one case.
	_, err = yubei.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-FAMILY-1", Subjects: people})
	require.NoError(t, err)
	dh.clock.Set(cst("2026-03-17 10:00")) // 11 working days later: more than 2 × the matter's 5
	window := &auditv1.ListAnomaliesRequest{From: timestamppb.New(cst("2026-03-01 00:00")), To: timestamppb.New(dh.clock.Now()), CaseSubjectsMin: 3}
	an, err := coord.Audit.ListAnomalies(ctx, window)
	require.NoError(t, err)
	byRule := map[string][]*auditv1.Anomaly{}
	for _, a := range an.GetAnomalies() {
		byRule[a.GetRule()] = append(byRule[a.GetRule()], a)
	}
	require.Len(t, byRule[ledgerserver.RuleCaseManySubjects], 1)
	many := byRule[ledgerserver.RuleCaseManySubjects][0]
	require.Equal(t, "YB-FAMILY-1", many.GetCaseNumber())
	require.Equal(t, int64(4), many.GetCount())
	require.Len(t, many.GetRecordIndices(), 4)
	require.Len(t, byRule[ledgerserver.RuleCaseOpenTooLong], 1)
	require.Contains(t, byRule[ledgerserver.RuleCaseOpenTooLong][0].GetExplanation(), "open 11.0 working days")
	window.CaseSubjectsMin = 5
	an, err = coord.Audit.ListAnomalies(ctx, window)
	require.NoError(t, err)
	for _, a := range an.GetAnomalies() {
		require.NotEqual(t, ledgerserver.RuleCaseManySubjects, a.GetRule(), "four subjects are below a threshold of five")
	}

	// Closing ends the case: audited, and no anomaly for its age any more.
	closed, err := yubei.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-FAMILY-1", Comment: "已办结"})
	require.NoError(t, err)
	require.Equal(t, "closed", closed.GetCase().GetState())
	require.Len(t, closed.GetCase().GetHistory(), 2)
	recs := dh.dataAudit(t, server.KindCase)
	require.Equal(t, "closed: 已办结", recs[len(recs)-1].Reason)
	an, err = coord.Audit.ListAnomalies(ctx, window)
	require.NoError(t, err)
	for _, a := range an.GetAnomalies() {
		require.NotEqual(t, ledgerserver.RuleCaseOpenTooLong, a.GetRule())
	}
	_, err = yubei.Cases.WithdrawCase(ctx, &exchangev1.WithdrawCaseRequest{Number: "YB-FAMILY-1", Comment: "撤回"})
	requireReason(t, err, codes.FailedPrecondition, "CASE_NOT_OPEN")
}

// TestObjectionDeadlines: raising and resolving are audited; an objection unanswered past
// its working-day deadline escalates to the coordinator; "corrected" needs a new version.
func TestObjectionDeadlines(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-06 16:00"), func(c *config.Config) { c.Deadlines.ObjectionDays = 3 }) // a Friday
	a := storetest.IDNumber(61)
	dh.publish(t, "ob-1", a)
	yubei, police, coord := dh.c(dh.yubei), dh.c(dh.police), dh.c(dh.coordinator)
	raised, err := yubei.Objections.RaiseObjection(ctx, &exchangev1.RaiseObjectionRequest{Resource: dh.resource, Subject: a, Items: []string{"address"}, Text: "住址已变更"})
	require.NoError(t, err)
	o := raised.GetObjection()
	require.Equal(t, cst("2026-03-12 00:00").UTC(), o.GetDeadline().AsTime(), "3 working days: 9, 10, 11 March")
	rec := objectionSteps(dh.dataAudit(t, server.KindObjection))
	require.Len(t, rec, 1)
	require.Equal(t, o.GetId(), rec[0].RequestID)
	require.Contains(t, rec[0].Reason, "raise: record version 1")

	t.Run("fail/corrected without a new version", func(t *testing.T) {
		_, err := police.Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: o.GetId(), State: exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, Resolution: "已更正"})
		requireReason(t, err, codes.FailedPrecondition, "OBJECTION_NOT_CORRECTED")
	})
	t.Run("fail/free text over the cap", func(t *testing.T) {
		_, err := yubei.Objections.RaiseObjection(ctx, &exchangev1.RaiseObjectionRequest{Resource: dh.resource, Subject: a, Text: string(make([]byte, 5000))})
		requireReason(t, err, codes.InvalidArgument, "TEXT_TOO_LONG")
	})

	dh.clock.Set(cst("2026-03-11 23:59"))
	esc, err := coord.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: "coordinator"})
	require.NoError(t, err)
	require.Empty(t, esc.GetObjections(), "in time until the deadline")
	dh.clock.Set(cst("2026-03-12 00:00"))
	_, err = yubei.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: "coordinator"})
	requireReason(t, err, codes.PermissionDenied, "ROLE_REQUIRED")
	esc, err = coord.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: "coordinator"})
	require.NoError(t, err)
	require.Len(t, esc.GetObjections(), 1, "past the deadline it is the coordinator's")
	require.Equal(t, cst("2026-03-12 00:00").UTC(), esc.GetObjections()[0].GetEscalatedAt().AsTime())
	rec = objectionSteps(dh.dataAudit(t, server.KindObjection))
	require.Len(t, rec, 2)
	require.Equal(t, exchange.SystemActor, rec[1].Department)
	require.Contains(t, rec[1].Reason, "did not answer objection "+o.GetId())
	_, err = coord.Objections.ListObjections(ctx, &exchangev1.ListObjectionsRequest{As: "coordinator"})
	require.NoError(t, err)
	require.Len(t, objectionSteps(dh.dataAudit(t, server.KindObjection)), 2, "escalated once")

	// A late provider still answers, with a new version.
	dh.clock.Set(cst("2026-03-12 10:00"))
	dh.publish(t, "ob-2-fix", a)
	done, err := police.Objections.ResolveObjection(ctx, &exchangev1.ResolveObjectionRequest{Id: o.GetId(), State: exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, Resolution: "已按变更登记更正"})
	require.NoError(t, err)
	require.Equal(t, int64(2), done.GetObjection().GetCorrectedVersion())
	rec = objectionSteps(dh.dataAudit(t, server.KindObjection))
	require.Equal(t, "resolve: corrected by record version 2", rec[len(rec)-1].Reason)
}

// TestCatalogueChangesAudited: every catalogue change is versioned and audited; a
// withdrawal is direct without granted requirements and a proposal with them, which its
// provider may withdraw; a withdrawn resource serves no pull and takes no requirement.
func TestCatalogueChangesAudited(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, cstZone)}
	eh := startHubAt(t, clk)
	market, yubei, coord := eh.c(t, dMarket), eh.c(t, dYubei), eh.c(t, dCoordinator)
	res := &exchangev1.Resource{Code: "500000-SCJG-0301", Name: "广告发布登记信息", SubjectKind: "uscc", ShareType: "unconditional",
		UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000",
		Items: []*exchangev1.DataItem{{Name: "name", Title: "名称", Type: "string", Sensitivity: "public"}}}
	_, err := market.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: res})
	require.NoError(t, err)
	changes := eh.auditKinds(t, server.KindCatalogChange)
	require.Len(t, changes, 1)
	require.Equal(t, "500000-SCJG-0301@v1", changes[0].RequestID)
	require.Contains(t, changes[0].Reason, "register v1")

	// Without granted requirements a withdrawal applies at once.
	wd, err := market.Catalog.WithdrawResource(ctx, &exchangev1.WithdrawResourceRequest{Code: res.Code, Version: 1})
	require.NoError(t, err)
	require.Nil(t, wd.GetProposal())
	require.True(t, wd.GetResource().GetWithdrawn())
	require.Equal(t, int32(2), wd.GetResource().GetVersion())
	require.Contains(t, eh.lastAudit(t, server.KindCatalogChange).Reason, "withdraw v2")
	_, err = yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: res.Code, Items: []string{"name"},
		MatterCodes: []string{"500112-YB-0001"}, LegalDuty: "《优化营商环境条例》第三十五条"})
	requireReason(t, err, codes.FailedPrecondition, "RESOURCE_WITHDRAWN")
	_, err = market.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: wd.GetResource()})
	requireReason(t, err, codes.FailedPrecondition, "RESOURCE_WITHDRAWN")

	// With a granted requirement, withdrawing 营业执照信息 is a proposal; the provider may
	// take it back; the consumer's history shows both.
	f, err := yubei.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-SCJG-0001", Items: []string{"name"},
		MatterCodes: []string{"500112-YB-0001"}, LegalDuty: "《优化营商环境条例》第三十五条"})
	require.NoError(t, err)
	cur, err := market.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: "500000-SCJG-0001"})
	require.NoError(t, err)
	p, err := market.Catalog.WithdrawResource(ctx, &exchangev1.WithdrawResourceRequest{Code: "500000-SCJG-0001", Version: cur.GetVersion()})
	require.NoError(t, err)
	require.NotNil(t, p.GetProposal())
	require.Equal(t, []string{"withdraws the resource from the catalogue"}, p.GetProposal().GetNarrowing())
	require.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, cstZone), p.GetProposal().GetDeadline().AsTime().In(cstZone), "5 working days by default")
	l, err := coord.Catalog.ListProposals(ctx, &exchangev1.ListProposalsRequest{State: "pending"})
	require.NoError(t, err)
	require.Len(t, l.GetProposals(), 1)
	clk.Set(time.Date(2026, 3, 10, 0, 0, 0, 0, cstZone))
	got, err := coord.Catalog.GetProposal(ctx, &exchangev1.GetProposalRequest{Id: p.GetProposal().GetId()})
	require.NoError(t, err)
	require.True(t, got.GetOverdue(), "the coordinator's queue flags it; sharing goes on")
	_, err = coord.Catalog.DecideProposal(ctx, &exchangev1.DecideProposalRequest{Id: got.GetId(), Action: "withdraw"})
	requireReason(t, err, codes.PermissionDenied, "NOT_RESOURCE_PROVIDER")
	w, err := market.Catalog.DecideProposal(ctx, &exchangev1.DecideProposalRequest{Id: got.GetId(), Action: "withdraw"})
	require.NoError(t, err)
	require.Equal(t, "withdrawn", w.GetProposal().GetState())
	require.False(t, w.GetResource().GetWithdrawn())
	props := eh.auditKinds(t, server.KindCatalogProposal)
	require.Len(t, props, 2)
	require.True(t, strings.HasPrefix(props[1].Reason, "withdraw → withdrawn"), props[1].Reason)
	r, err := yubei.Requirements.GetRequirement(ctx, &exchangev1.GetRequirementRequest{Id: f.GetRequirement().GetId()})
	require.NoError(t, err)
	n := len(r.GetDecisions())
	require.Equal(t, string(exchange.ActCatalogNotice), r.GetDecisions()[n-2].GetAction())
	require.Contains(t, r.GetDecisions()[n-1].GetComment(), "withdrew proposal "+got.GetId())
	require.Equal(t, "granted", r.GetState())

	// The requirement keeps working: the resource was never withdrawn.
	_, err = yubei.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: "YB-CAT-1", Matter: "500112-YB-0001", Applicant: companyA})
	require.NoError(t, err)
	_, err = yubei.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: f.GetRequirement().GetId(), MatterCode: "500112-YB-0001", CaseNumber: "YB-CAT-1", Subjects: []string{companyA}})
	require.NoError(t, err)
}

// objectionSteps drops the records of objection listings (audited reads) from rs.
func objectionSteps(rs []ledger.Record) []ledger.Record {
	return slices.DeleteFunc(rs, func(r ledger.Record) bool { return strings.HasPrefix(r.Reason, "list as ") })
}
