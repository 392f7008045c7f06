package exchange_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/calendar"
)

func TestMaskRules(t *testing.T) {
	for _, tc := range []struct {
		rule     exchange.MaskRule
		in, want string
	}{
		{exchange.MaskIDNumber, "11010519491231002X", "110105********002X"},
		{exchange.MaskIDNumber, "123456", "***"},
		{exchange.MaskName, "张三丰", "张**"},
		{exchange.MaskName, "欧阳修文", "欧阳**"},
		{exchange.MaskName, "李", "***"},
		{exchange.MaskName, "Wang Xiaoming", "Wang*********"},
		{exchange.MaskPhone, "13800138000", "*******8000"},
		{exchange.MaskPhone, "023-6788 1234", "***-**** 1234"},
		{exchange.MaskAddress, "重庆市渝北区龙溪街道金紫山小区3栋", "重庆市渝北区***"},
		{exchange.MaskAddress, "四川省阿坝藏族羌族自治州汶川县映秀镇", "四川省阿坝藏族羌族自治州汶川县***"},
		{exchange.MaskAddress, "浙江省义乌市稠城街道某小区", "浙江省义乌市***"},
		{exchange.MaskAddress, "解放碑步行街88号", "***"},
		{exchange.MaskFull, "anything", "***"},
		{exchange.MaskNone, "as published", "as published"},
		{exchange.MaskFull, "", ""},
	} {
		require.Equal(t, tc.want, tc.rule.Apply(tc.in), "%s(%q)", tc.rule, tc.in)
	}
	_, err := exchange.ParseMaskRule("keep_first_3")
	require.Equal(t, "MASK_RULE_INVALID", reason(t, err), "rules are a closed set")
}

// TestCatalogMaskRules: a personal item without a rule is fully masked; none is refused for
// personal items; an unknown rule is refused.
func TestCatalogMaskRules(t *testing.T) {
	res := resource(exchange.ShareUnconditional, true)
	it, _ := res.Item("name")
	require.Equal(t, exchange.MaskFull, it.MaskRule(), "a personal item catalogued without a rule is fully masked")
	require.Equal(t, exchange.MaskNone, exchange.DataItem{Sensitivity: exchange.SensitivityPublic}.MaskRule())

	res.Items[0].Mask = exchange.MaskNone
	require.Equal(t, "MASK_RULE_REQUIRED", reason(t, res.Validate()))
	res.Items[0].Mask = "first_char"
	require.Equal(t, "MASK_RULE_INVALID", reason(t, res.Validate()))
	res.Items[0].Mask = exchange.MaskName
	require.NoError(t, res.Validate())
}

// TestCatalogEditCannotUnmask: a provider's change that lowers a personal item's sensitivity
// or loosens its masking is a proposal the coordinator decides, even when no requirement is
// granted on the resource; making masking stricter applies at once.
func TestCatalogEditCannotUnmask(t *testing.T) {
	cc := &exchange.ChangeControl{Calendar: calendar.Default()}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	cur := resource(exchange.ShareUnconditional, true)
	cur.Items[2].Mask = exchange.MaskIDNumber // photo
	for _, tc := range []struct {
		name string
		mut  func(*exchange.Resource)
		want string
	}{
		{"sensitivity lowered to public", func(r *exchange.Resource) { r.Items[0].Sensitivity = exchange.SensitivityPublic },
			"lowers the sensitivity of data item name (personal → public)"},
		{"sensitive personal lowered to personal", func(r *exchange.Resource) { r.Items[2].Sensitivity = exchange.SensitivityPersonal },
			"lowers the sensitivity of data item photo (sensitive_personal → personal)"},
		{"full masking loosened to surname", func(r *exchange.Resource) { r.Items[0].Mask = exchange.MaskName },
			"loosens the masking of data item name (full → name)"},
		{"rule swapped", func(r *exchange.Resource) { r.Items[2].Mask = exchange.MaskAddress },
			"loosens the masking of data item photo (id_number → address)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := *cur
			next.Items = append([]exchange.DataItem(nil), cur.Items...)
			tc.mut(&next)
			p, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: &next}, provider, "P-1", at)
			require.NoError(t, err)
			require.NotNil(t, p, "no requirement is granted, yet the change waits for the coordinator")
			require.Equal(t, []string{tc.want}, p.Narrowing)
			require.Empty(t, p.Affected)
		})
	}
	t.Run("stricter masking applies at once", func(t *testing.T) {
		next := *cur
		next.Items = append([]exchange.DataItem(nil), cur.Items...)
		next.Items[2].Mask = exchange.MaskFull
		next.Items[1].Mask = exchange.MaskAddress // full → address on a personal item is looser: not here
		next.Items[1].Mask = ""
		p, err := cc.Plan(exchange.ResourceChange{Cur: cur, Next: &next}, provider, "P-1", at)
		require.NoError(t, err)
		require.Nil(t, p)
	})
}

// TestFileClearText: clear text names requested items; a sensitive personal item needs a
// valid legal basis; a verify-only requirement asks no values at all.
func TestFileClearText(t *testing.T) {
	res := resource(exchange.ShareUnconditional, true)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, cst)
	file := func(mut func(*exchange.Requirement)) (*exchange.Requirement, error) {
		r := newRequirement()
		r.Items = []string{"name", "address", "photo"}
		mut(r)
		return r, workflow().File(r, res, consumer, at)
	}
	_, err := file(func(r *exchange.Requirement) { r.ClearText = []exchange.ClearText{{Item: "photo"}} })
	require.Equal(t, "LEGAL_BASIS_REQUIRED", reason(t, err), "clear text of a sensitive personal item needs a legal basis")
	_, err = file(func(r *exchange.Requirement) {
		r.ClearText = []exchange.ClearText{{Item: "photo", Basis: exchange.LegalBasis{Kind: exchange.BasisRule, Title: "x", Article: "第一条"}}}
	})
	require.Equal(t, "LEGAL_BASIS_TITLE_INVALID", reason(t, err))
	_, err = file(func(r *exchange.Requirement) { r.ClearText = []exchange.ClearText{{Item: "licence"}} })
	require.Equal(t, "CLEAR_TEXT_ITEM_UNKNOWN", reason(t, err))
	_, err = file(func(r *exchange.Requirement) {
		r.VerifyOnly, r.ClearText = true, []exchange.ClearText{{Item: "name"}}
	})
	require.Equal(t, "CLEAR_TEXT_VERIFY_ONLY", reason(t, err))
	r, err := file(func(r *exchange.Requirement) {
		r.ClearText = []exchange.ClearText{{Item: "name"}, {Item: "photo", Basis: exchange.LegalBasis{Kind: "法律", Title: "《中华人民共和国个人信息保护法》", Article: "第十三条"}}}
	})
	require.NoError(t, err)
	require.Equal(t, privacyLaw, r.ClearText[1].Basis, "the basis is stored normalised")
}

// TestPullMasks: a pull gets masked values unless clear text is approved, and clear text
// of a sensitive personal item only with a valid basis — checked on every pull, so a
// requirement edited in the database without a basis still gets the masked value, and a
// policy that allows everything changes nothing.
func TestPullMasks(t *testing.T) {
	pull := func(m *memPorts) *exchange.PullResult {
		t.Helper()
		in := okPull()
		in.Items = []string{"name", "address", "photo"}
		out, err := m.puller().Pull(context.Background(), in)
		require.NoError(t, err)
		return out.Result
	}
	setup := func() *memPorts {
		m := world()
		m.reqs["RQ-YB"].Items = []string{"name", "address", "photo"}
		res := m.res["500000-GA-0001"]
		res.Items[0].Mask, res.Items[1].Mask = exchange.MaskName, exchange.MaskAddress
		m.recs[res.Code+"/"+applicant].Fields = map[string]string{"name": "张三丰", "address": "重庆市渝北区龙溪街道1号", "photo": "JPEG..."}
		return m
	}

	r := pull(setup())
	require.Equal(t, map[string]string{"name": "张**", "address": "重庆市渝北区***", "photo": "***"}, r.Records[0].Fields)
	require.Equal(t, []string{"name", "address", "photo"}, r.Masked, "the response says which items were masked")

	m := setup()
	m.reqs["RQ-YB"].ClearText = []exchange.ClearText{{Item: "name"}, {Item: "photo", Basis: privacyLaw}}
	r = pull(m)
	require.Equal(t, map[string]string{"name": "张三丰", "address": "重庆市渝北区***", "photo": "JPEG..."}, r.Records[0].Fields)
	require.Equal(t, []string{"address"}, r.Masked)
	require.Contains(t, m.audited[0].Reason, "clear text approved: name; photo under 《中华人民共和国个人信息保护法》第十三条（法律）")
	require.Contains(t, m.audited[0].Reason, "masked: address")

	m = setup() // an insider writes clear text into the stored requirement without a basis
	m.reqs["RQ-YB"].ClearText = []exchange.ClearText{{Item: "photo"}, {Item: "address", Basis: exchange.LegalBasis{Title: "内部通知"}}}
	r = pull(m)
	require.Equal(t, "***", r.Records[0].Fields["photo"], "sensitive personal data needs a valid basis on every pull")
	require.Equal(t, "重庆市渝北区龙溪街道1号", r.Records[0].Fields["address"], "a personal (not sensitive) item is clear by the grant alone")
}

// TestVerifyOnlyIsNeverPulled: a pull under a verify-only requirement is refused before
// the policy is asked, even by a policy that allows everything, and audited.
func TestVerifyOnlyIsNeverPulled(t *testing.T) {
	m := world()
	m.reqs["RQ-YB"].VerifyOnly = true
	_, err := m.puller().Pull(context.Background(), okPull())
	require.Equal(t, exchange.ReasonVerifyOnly, reason(t, err))
	require.Zero(t, m.asked, "the policy cannot widen a verify-only requirement")
	require.Len(t, m.audited, 1)
	require.False(t, m.audited[0].Granted)
}

func TestNormalizeClaim(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"渝Ｂ１２３４５", "渝B12345"},
		{"渝 b12345", "渝B12345"},
		{"91500000MA5U　7XY12", "91500000ma5u7xy12"},
		{" 张三 ", "张三"},
	} {
		require.Equal(t, exchange.NormalizeClaim(tc.b), exchange.NormalizeClaim(tc.a), "%q vs %q", tc.a, tc.b)
	}
	require.Equal(t, exchange.VerifyMismatch, exchange.Compare("张三", "张叁", true))
	require.Equal(t, exchange.VerifyNoRecord, exchange.Compare("张三", "", true))
	require.Equal(t, exchange.VerifyNoRecord, exchange.Compare("张三", "张三", false))
}

func (m *memPorts) SignVerification(_ context.Context, r *exchange.VerifyResult) (exchange.SignedPull, error) {
	return exchange.SignedPull{Payload: []byte(r.VerificationID), Signature: []byte("sig"), Digest: []byte(r.VerificationID)}, nil
}

// TestVerify: outcomes per item, under a verify-only requirement, audited with the outcomes
// and without any value; the pull rules hold (a subject outside the case is refused).
func TestVerify(t *testing.T) {
	m := world()
	m.reqs["RQ-YB"].VerifyOnly = true
	p := m.puller()
	p.VerifySigner = m
	in := exchange.VerifyInput{Caller: yubei, RequirementID: "RQ-YB", MatterCode: "M-OK", CaseNumber: "YB-1", Subject: applicant,
		Claims: []exchange.Claim{{Item: "address", Value: "别处"}, {Item: "name", Value: "姓名 002x"}}}
	out, err := p.Verify(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, []exchange.ItemVerdict{{Item: "address", Outcome: exchange.VerifyMismatch}, {Item: "name", Outcome: exchange.VerifyMatch}}, out.Result.Results)
	require.Equal(t, int64(3), out.Result.RecordVersion)
	a := m.audited[0]
	require.True(t, a.Granted)
	require.Equal(t, "VERIFIED: wildcard allow; address=mismatch, name=match", a.Reason)
	require.NotContains(t, a.Reason, "住址")

	delete(m.recs, "500000-GA-0001/"+applicant)
	out, err = p.Verify(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, exchange.VerifyNoRecord, out.Result.Results[0].Outcome)

	in.Subject = stranger
	_, err = p.Verify(context.Background(), in)
	require.Equal(t, exchange.ReasonCaseSubjectMismatch, reason(t, err))
	in.Subject, in.Claims = applicant, []exchange.Claim{{Item: "photo", Value: "x"}}
	_, err = p.Verify(context.Background(), in)
	require.Equal(t, exchange.ReasonDataItemNotApproved, reason(t, err))
}
