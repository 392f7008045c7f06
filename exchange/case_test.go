package exchange_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

var (
	caseMatter = &exchange.Matter{Code: "M-OK", Version: 2, TimeLimit: 5}
	yb         = exchange.Actor{Department: yubei, Evidence: "GXHUB-SM2 yb", BodyDigest: "d-yb"}
)

func TestCaseOpen(t *testing.T) {
	c := &exchange.Case{Number: " YB-2026-0001 ", Applicant: strings.ToLower(applicant),
		Parties: []exchange.Party{{Subject: spouse, Relation: "配偶"}, {Subject: "JY15001120012345"}, {Subject: "91350100M000100Y43"}}}
	require.NoError(t, c.Open(caseMatter, yb, pullAt))
	require.Equal(t, "YB-2026-0001", c.Number)
	require.Equal(t, applicant, c.Applicant)
	require.Equal(t, exchange.SubjectIDNumber, c.ApplicantKind)
	require.Equal(t, []exchange.SubjectKind{exchange.SubjectIDNumber, exchange.SubjectCertificate, exchange.SubjectUSCC},
		[]exchange.SubjectKind{c.Parties[0].Kind, c.Parties[1].Kind, c.Parties[2].Kind})
	require.Equal(t, "500112", c.Region, "the department's region by default")
	require.Equal(t, exchange.CaseOpen, c.State)
	require.Equal(t, 2, c.MatterVersion)
	require.Equal(t, []exchange.CaseEvent{{Seq: 1, State: exchange.CaseOpen, By: "YUBEI", At: pullAt.UTC(), Evidence: "GXHUB-SM2 yb", BodyDigest: "d-yb"}}, c.History)
	require.True(t, c.Covers(applicant))
	require.True(t, c.Covers(spouse))
	require.False(t, c.Covers(stranger))
	require.True(t, c.VisibleTo(yubei))
	require.False(t, c.VisibleTo(fund))
	require.True(t, c.VisibleTo(&exchange.Department{Code: "AUD", Roles: []exchange.Role{exchange.RoleAuditor}}))

	for _, tc := range []struct {
		name   string
		c      exchange.Case
		by     exchange.Actor
		reason string
	}{
		{"bad number", exchange.Case{Number: "办件1", Applicant: applicant}, yb, "CASE_NUMBER_INVALID"},
		{"applicant check character", exchange.Case{Number: "C-1", Applicant: "110105194912310021"}, yb, "APPLICANT_INVALID"},
		{"applicant uscc check character", exchange.Case{Number: "C-1", Applicant: "91350100M000100Y44"}, yb, "APPLICANT_INVALID"},
		{"applicant not an id", exchange.Case{Number: "C-1", Applicant: "a"}, yb, "APPLICANT_INVALID"},
		{"party with a wrong check character", exchange.Case{Number: "C-1", Applicant: applicant, Parties: []exchange.Party{{Subject: "110105195001010013"}}}, yb, "PARTY_INVALID"},
		{"party twice", exchange.Case{Number: "C-1", Applicant: applicant, Parties: []exchange.Party{{Subject: applicant}}}, yb, "PARTY_DUPLICATE"},
		{"not a consumer", exchange.Case{Number: "C-1", Applicant: applicant}, provider, "ROLE_REQUIRED"},
		{"too many parties", exchange.Case{Number: "C-1", Applicant: applicant, Parties: make([]exchange.Party, exchange.MaxCaseParties+1)}, yb, "PARTIES_TOO_MANY"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			c := tc.c
			require.Equal(t, tc.reason, reason(t, c.Open(caseMatter, tc.by, pullAt)))
		})
	}
}

func TestCaseEnd(t *testing.T) {
	open := func() *exchange.Case {
		c := &exchange.Case{Number: "YB-1", Applicant: applicant}
		require.NoError(t, c.Open(caseMatter, yb, pullAt))
		return c
	}
	c := open()
	_, _, err := c.End(exchange.CaseClosed, exchange.Actor{Department: fund}, "", pullAt)
	require.Equal(t, "NOT_CASE_DEPARTMENT", reason(t, err))
	_, _, err = c.End(exchange.CaseWithdrawn, yb, " ", pullAt)
	require.Equal(t, "COMMENT_REQUIRED", reason(t, err))
	from, e, err := c.End(exchange.CaseClosed, yb, "办结", pullAt.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, exchange.CaseOpen, from)
	require.Equal(t, exchange.CaseEvent{Seq: 2, State: exchange.CaseClosed, By: "YUBEI", Comment: "办结", At: pullAt.Add(time.Hour).UTC(), Evidence: "GXHUB-SM2 yb", BodyDigest: "d-yb"}, e)
	require.Equal(t, exchange.CaseClosed, c.State)
	_, _, err = c.End(exchange.CaseWithdrawn, yb, "申请人撤回", pullAt)
	require.Equal(t, "CASE_NOT_OPEN", reason(t, err))
	_, _, err = open().End(exchange.CaseOpen, yb, "", pullAt)
	require.Equal(t, "CASE_STATE_INVALID", reason(t, err))
}

func TestCaseOpenFor(t *testing.T) {
	c := &exchange.Case{Number: "YB-1", Applicant: applicant}
	require.NoError(t, c.Open(caseMatter, yb, time.Date(2026, 3, 2, 9, 0, 0, 0, cst)))
	days, overdue, provisional, err := c.OpenFor(calendar.Default(), caseMatter, 2, time.Date(2026, 3, 13, 9, 0, 0, 0, cst))
	require.NoError(t, err)
	require.Equal(t, 9.0, days, "two weeks minus a weekend: 9 working days")
	require.False(t, overdue, "9 ≤ 2 × 5")
	require.False(t, provisional)
	days, overdue, _, err = c.OpenFor(calendar.Default(), caseMatter, 2, time.Date(2026, 3, 17, 9, 0, 0, 0, cst))
	require.NoError(t, err)
	require.Equal(t, 11.0, days)
	require.True(t, overdue)
}
