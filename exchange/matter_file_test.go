package exchange_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

func TestMattersCSV(t *testing.T) {
	in := "\ufeffcode,name,department,time_limit_days,basis_kind,basis_title,basis_article,basis_doc_number,material_id,material_name,resource,items,ecert_type\n" +
		"500000-GJJ-0001,住房公积金购房提取,11500000000000051M,5,行政法规,住房公积金管理条例,第二十四条,,household,户口簿,500000-GA-0001,name;household_address,\n" +
		"500000-GJJ-0001,,,,,,,,id_proof,居民身份证,,,11999999000000029N001\n" +
		"500112-YB-0001,企业开办,11500112000000086R,3,rule,重庆市优化营商环境条例,第三十五条,,licence,营业执照,500000-SCJG-0001,name,\n"
	ms, err := exchange.ParseMattersCSV(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, ms, 2)
	m := ms[0]
	require.Equal(t, "500000-GJJ-0001", m.Code)
	require.Equal(t, 5, m.TimeLimit)
	require.Equal(t, exchange.LegalBasis{Kind: "行政法规", Title: "住房公积金管理条例", Article: "第二十四条"}, m.LegalBasis)
	require.Equal(t, []exchange.Material{
		{ID: "household", Name: "户口簿", Resource: "500000-GA-0001", Items: []string{"name", "household_address"}},
		{ID: "id_proof", Name: "居民身份证", ECertType: "11999999000000029N001"},
	}, m.Materials)
	for _, m := range ms {
		require.NoError(t, m.Validate(), m.Code)
	}

	var out bytes.Buffer
	require.NoError(t, exchange.WriteMattersCSV(&out, ms))
	back, err := exchange.ParseMattersCSV(&out)
	require.NoError(t, err)
	require.Equal(t, ms, back, "export and import round trip")

	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no header"},
		{"missing column", "code,name\nA-1,x\n", `lacks column "department"`},
		{"scattered rows", "code,name,department,time_limit_days,basis_kind,basis_title,basis_article,basis_doc_number,material_id,material_name,resource,items,ecert_type\nA-1,x,D,1,law,某某法,第一条,,a,A,,,\nB-1,y,D,1,law,某某法,第一条,,a,A,,,\nA-1,,,,,,,,b,B,,,\n", "keep its rows together"},
		{"bad limit", "code,name,department,time_limit_days,basis_kind,basis_title,basis_article,basis_doc_number,material_id,material_name,resource,items,ecert_type\nA-1,x,D,five,law,某某法,第一条,,a,A,,,\n", "line 2: time_limit_days"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			_, err := exchange.ParseMattersCSV(strings.NewReader(tc.in))
			require.Equal(t, "MATTER_FILE_INVALID", reason(t, err))
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
