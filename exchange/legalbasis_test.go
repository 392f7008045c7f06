package exchange_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

func TestLegalBasis(t *testing.T) {
	ok := exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "《中华人民共和国居民身份证法》", Article: "第六条第三款"}.Normalize()
	require.NoError(t, ok.Validate("legal_basis"))
	require.Equal(t, "中华人民共和国居民身份证法", ok.Title, "《》 are removed from the title")
	require.Equal(t, "《中华人民共和国居民身份证法》第六条第三款（法律）", ok.Citation())

	approval := exchange.LegalBasis{Kind: "政府批准文件", Title: "重庆市人民政府关于同意暂停共享某数据的批复", DocNumber: "渝府函〔2024〕15号"}.Normalize()
	require.NoError(t, approval.Validate("legal_basis"))
	require.Equal(t, exchange.BasisGovernmentApproval, approval.Kind, "the Chinese kind name is accepted")
	require.Equal(t, "《重庆市人民政府关于同意暂停共享某数据的批复》（渝府函〔2024〕15号）（政府批准文件）", approval.Citation())

	several := exchange.LegalBasis{Kind: exchange.BasisRule, Title: "重庆市政务数据资源管理暂行办法", Article: "第三条、第十二条第（二）项", DocNumber: "渝府令〔2019〕328号"}
	require.NoError(t, several.Validate("legal_basis"))

	for _, tc := range []struct {
		name   string
		b      exchange.LegalBasis
		reason string
	}{
		{"empty", exchange.LegalBasis{}, "LEGAL_BASIS_REQUIRED"},
		{"free text x", exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "x", Article: "第一条"}, "LEGAL_BASIS_TITLE_INVALID"},
		{"punctuation title", exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "——", Article: "第一条"}, "LEGAL_BASIS_TITLE_INVALID"},
		{"empty title", exchange.LegalBasis{Kind: exchange.BasisLaw, Article: "第一条"}, "LEGAL_BASIS_TITLE_INVALID"},
		{"internal rule is no kind", exchange.LegalBasis{Kind: "内部规定", Title: "内部规定", Article: "第一条"}, "LEGAL_BASIS_KIND_INVALID"},
		{"no article", exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国个人信息保护法"}, "LEGAL_BASIS_ARTICLE_MISSING"},
		{"article not an article", exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国个人信息保护法", Article: "全文"}, "LEGAL_BASIS_ARTICLE_INVALID"},
		{"approval without number", exchange.LegalBasis{Kind: exchange.BasisGovernmentApproval, Title: "市政府批复"}, "LEGAL_BASIS_DOC_NUMBER_MISSING"},
		{"bad number", exchange.LegalBasis{Kind: exchange.BasisRule, Title: "某某办法", Article: "第一条", DocNumber: "123"}, "LEGAL_BASIS_DOC_NUMBER_INVALID"},
		{"title too long", exchange.LegalBasis{Kind: exchange.BasisLaw, Title: strings.Repeat("法", 129), Article: "第一条"}, "LEGAL_BASIS_TITLE_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.Normalize().Validate("legal_basis")
			require.Equal(t, tc.reason, reason(t, err))
			require.Contains(t, err.Error(), "legal_basis")
		})
	}

	t.Run("JSON: structured, and legacy free text stays readable but never valid", func(t *testing.T) {
		b, err := json.Marshal(ok)
		require.NoError(t, err)
		var back exchange.LegalBasis
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, ok, back)
		var legacy exchange.LegalBasis
		require.NoError(t, json.Unmarshal([]byte(`"《居民身份证法》第六条"`), &legacy))
		require.Equal(t, "《居民身份证法》第六条", legacy.Citation())
		require.Error(t, legacy.Validate("legal_basis"))
	})
}

func TestCheckText(t *testing.T) {
	require.NoError(t, exchange.CheckText("legal_duty", strings.Repeat("职", exchange.MaxText/3), exchange.MaxText))
	err := exchange.CheckText("legal_duty", strings.Repeat("x", 7<<20), exchange.MaxText)
	require.Equal(t, "TEXT_TOO_LONG", reason(t, err))
	require.Contains(t, err.Error(), "legal_duty is 7340032 bytes; at most 4096")
	require.Equal(t, "TEXT_INVALID", reason(t, exchange.CheckText("comment", "\xff", exchange.MaxText)))

	r := newRequirement()
	r.LegalDuty = strings.Repeat("x", 7<<20)
	require.Equal(t, "TEXT_TOO_LONG", reason(t, workflow().File(r, resource(exchange.ShareUnconditional, true), consumer, pullAt)))
	res := resource(exchange.ShareConditional, true)
	res.Condition = strings.Repeat("条", 2000)
	require.Equal(t, "TEXT_TOO_LONG", reason(t, res.Validate()))
}
