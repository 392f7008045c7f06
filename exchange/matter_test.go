package exchange_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

func TestApplicantKind(t *testing.T) {
	for _, tc := range []struct {
		subject string
		kind    exchange.SubjectKind
		reason  string
	}{
		{"11010519491231002X", exchange.SubjectIDNumber, ""},
		{"110105194912310021", "", "APPLICANT_INVALID"}, // wrong check character
		{"91350100M000100Y43", exchange.SubjectUSCC, ""},
		{"hello", "", "APPLICANT_INVALID"},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			k, err := exchange.ApplicantKind(tc.subject)
			if tc.reason != "" {
				require.Equal(t, tc.reason, reason(t, err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.kind, k)
		})
	}
}

func TestExemptions(t *testing.T) {
	m := &exchange.Matter{Code: "M-001", Name: "户籍迁入", Department: "CONSUMER", Version: 1, TimeLimit: 5,
		LegalBasis: exchange.LegalBasis{Kind: exchange.BasisAdministrativeRegulation, Title: "中华人民共和国户口登记条例", Article: "第十条"}, Materials: []exchange.Material{
			{ID: "household", Name: "户口簿", Resource: "500000-GA-0001", Items: []string{"name", "address"}},
			{ID: "photo", Name: "照片", Resource: "500000-GA-0001", Items: []string{"photo"}},
			{ID: "id_card", Name: "居民身份证", ECertType: "KNOWN-TYPE"},
			{ID: "diploma", Name: "学历证明", ECertType: "UNKNOWN-TYPE"},
			{ID: "lease", Name: "租赁合同"},
			{ID: "licence", Name: "营业执照", Resource: "500000-SCJG-0001", Items: []string{"name"}},
			{ID: "marriage", Name: "结婚证", Resource: "500000-MZ-0001", Items: []string{"name"}},
		}}
	require.NoError(t, m.Validate())
	ga := resource(exchange.ShareConditional, true)
	lic := resource(exchange.ShareUnconditional, true)
	lic.Code, lic.SubjectKind = "500000-SCJG-0001", exchange.SubjectUSCC
	mz := resource(exchange.ShareConditional, true)
	mz.Code = "500000-MZ-0001"
	granted := &exchange.Requirement{ID: "RQ-G", Consumer: "CONSUMER", Provider: "PROVIDER", Resource: ga.Code,
		Items: []string{"name", "address"}, MatterCodes: []string{"M-001"}, State: exchange.ReqGranted}
	otherMatter := &exchange.Requirement{ID: "RQ-O", Consumer: "CONSUMER", Provider: "PROVIDER", Resource: mz.Code,
		Items: []string{"name"}, MatterCodes: []string{"M-999"}, State: exchange.ReqGranted}
	someoneElses := &exchange.Requirement{ID: "RQ-X", Consumer: "OTHER", Provider: "PROVIDER", Resource: mz.Code,
		Items: []string{"name"}, MatterCodes: []string{"M-001"}, State: exchange.ReqGranted}
	q := exchange.ExemptionQuery{
		Matter: m, Applicant: "11010519491231002X", Consumer: "CONSUMER",
		Resources:    map[string]*exchange.Resource{ga.Code: ga, lic.Code: lic, mz.Code: mz},
		Requirements: []*exchange.Requirement{granted, otherMatter, someoneElses},
		HeldECert: func(c string) (string, string) {
			if c == "KNOWN-TYPE" {
				return "ECERT-42", ""
			}
			return "", "the applicant holds no active e-certificate of type " + c
		},
	}
	got, err := exchange.Exemptions(q)
	require.NoError(t, err)
	require.Len(t, got, len(m.Materials))
	want := []struct {
		exempt bool
		source exchange.ExemptionSource
		req    string
		reason string
	}{
		{true, exchange.SourceSharing, "RQ-G", "under granted requirement RQ-G"},
		{false, "", "", "lacks data items photo"},
		{true, exchange.SourceECert, "", "holds active e-certificate ECERT-42"},
		{false, "", "", "no active e-certificate of type UNKNOWN-TYPE"},
		{false, "", "", "no catalogued resource or e-certificate type"},
		{false, "", "", "keyed by uscc, the applicant by id_number"},
		{false, "", "", "RQ-O is not bound to matter M-001"},
	}
	for i, w := range want {
		e := got[i]
		require.Equal(t, m.Materials[i], e.Material)
		require.Equal(t, w.exempt, e.Exempt, e.Reason)
		require.Equal(t, w.source, e.Source)
		require.Equal(t, w.req, e.Requirement)
		require.Contains(t, e.Reason, w.reason)
		if !w.exempt {
			require.Contains(t, e.Reason, "must be submitted")
		}
	}

	t.Run("revoked requirement no longer exempts", func(t *testing.T) {
		revoked := *granted
		revoked.State = exchange.ReqRevoked
		q := q
		q.Requirements = []*exchange.Requirement{&revoked}
		got, err := exchange.Exemptions(q)
		require.NoError(t, err)
		require.False(t, got[0].Exempt)
		require.Contains(t, got[0].Reason, "RQ-G is revoked")
	})
	t.Run("no requirement: says which to file", func(t *testing.T) {
		q := q
		q.Requirements = nil
		got, err := exchange.Exemptions(q)
		require.NoError(t, err)
		require.Contains(t, got[0].Reason, "has no requirement for resource 500000-GA-0001: file one")
	})
	t.Run("bad applicant", func(t *testing.T) {
		q := q
		q.Applicant = "123"
		_, err := exchange.Exemptions(q)
		require.Equal(t, "APPLICANT_INVALID", reason(t, err))
	})
}

func TestMatterValidate(t *testing.T) {
	ok := func() *exchange.Matter {
		return &exchange.Matter{Code: "M-001", Name: "x", Department: "CONSUMER", TimeLimit: 5,
			LegalBasis: exchange.LegalBasis{Kind: exchange.BasisAdministrativeRegulation, Title: "住房公积金管理条例", Article: "第二十四条"},
			Materials:  []exchange.Material{{ID: "a", Name: "A", Resource: "RES-1", Items: []string{"i"}}}}
	}
	require.NoError(t, ok().Validate())
	for _, tc := range []struct {
		reason string
		mut    func(*exchange.Matter)
	}{
		{"MATTER_CODE_INVALID", func(m *exchange.Matter) { m.Code = "事项" }},
		{"MATTER_NAME_MISSING", func(m *exchange.Matter) { m.Name = "" }},
		{"MATERIALS_MISSING", func(m *exchange.Matter) { m.Materials = nil }},
		{"MATERIAL_DUPLICATE", func(m *exchange.Matter) { m.Materials = append(m.Materials, m.Materials[0]) }},
		{"MATERIAL_ITEMS_MISSING", func(m *exchange.Matter) { m.Materials[0].Items = nil }},
		{"MATERIAL_ITEMS_WITHOUT_RESOURCE", func(m *exchange.Matter) { m.Materials[0].Resource = "" }},
		{"MATERIAL_ID_INVALID", func(m *exchange.Matter) { m.Materials[0].ID = "A B" }},
		{"MATTER_DEPARTMENT_MISSING", func(m *exchange.Matter) { m.Department = " " }},
		{"LEGAL_BASIS_REQUIRED", func(m *exchange.Matter) { m.LegalBasis = exchange.LegalBasis{} }},
		{"LEGAL_BASIS_TITLE_INVALID", func(m *exchange.Matter) { m.LegalBasis.Title = "x" }},
		{"MATTER_TIME_LIMIT_INVALID", func(m *exchange.Matter) { m.TimeLimit = 0 }},
		{"TEXT_TOO_LONG", func(m *exchange.Matter) { m.Name = strings.Repeat("事", 100) }},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			m := ok()
			tc.mut(m)
			require.Equal(t, tc.reason, reason(t, m.Validate()))
		})
	}
}
