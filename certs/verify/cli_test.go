package verify_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/gxhub/gxhub/certs/verify"
	"github.com/stretchr/testify/require"
)

func TestRunCLI(t *testing.T) {
	p := func(rel string) string { return filepath.Join(ext, rel) }
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"intact OFD", []string{p("ofd/v4signed_gomain_chongqing_tax.ofd")}, verify.ExitIntact,
			[]string{"verdict: INTACT 签名完整，信任未确认", "signer.chain", "unknown", "50011200000399", "why:"}, ""},
		{"flags after file", []string{p("ofd/v4signed_gomain_chongqing_tax.ofd"), "--json"}, verify.ExitIntact, []string{`"verdict": "INTACT"`}, ""},
		{"GB/T 35275 document", []string{p("ofd/gbt35275_gomain_yunnan_pathclip.ofd")}, verify.ExitIntact, []string{"DER SET of the signed attributes"}, ""},
		{"expired at signing", []string{"--json", p("ofd/SESV4SignDoc_expired_at_signing.ofd")}, verify.ExitInvalid,
			[]string{`"verdict": "INVALID"`, "signer.validity_at_signing"}, ""},
		{"signature with data", []string{p("ses/keyword_tongz_rawRS_SignedValue.dat"), "--data", p("ses/keyword_tongz_rawRS_Signature.xml")}, verify.ExitIntact,
			[]string{"raw r‖s"}, ""},
		{"signature with wrong data", []string{p("ses/ofdrw_SignedValueV4.dat"), "--data", p("ses/ofdrw_Signature.xml")}, verify.ExitInvalid,
			[]string{"signature.data_hash"}, ""},
		{"signature without data", []string{p("ses/ofdrw_SignedValueV4.dat")}, verify.ExitUsage, nil, "--data"},
		{"seal", []string{p("seal/ofdrw_UserV1.esl")}, verify.ExitIntact, []string{"(V1)"}, ""},
		{"seal at a time outside its validity", []string{p("seal/ofdrw_UserV4.esl"), "--at", "2030-01-01T00:00:00Z"}, verify.ExitInvalid, []string{"seal.validity"}, ""},
		{"trust roots", []string{p("ofd/v4signed_gomain_chongqing_tax.ofd"), "--trust", p("certs/tongsuo_sm2_chain-ca.crt")}, verify.ExitIntact,
			[]string{"issuer not in trust store"}, ""},
		{"require chain", []string{p("ofd/v4signed_gomain_chongqing_tax.ofd"), "--trust", p("certs/tongsuo_sm2_chain-ca.crt"), "--require-chain"}, verify.ExitInvalid, nil, ""},
		{"no file", nil, verify.ExitUsage, nil, "exactly one FILE"},
		{"missing file", []string{"/nonexistent.ofd"}, verify.ExitUsage, nil, "no such file"},
		{"not a seal or OFD", []string{p("vectors/sm2_sm3_vectors.json")}, verify.ExitUsage, nil, "neither an OFD"},
		{"bad flag", []string{"--nope"}, verify.ExitUsage, nil, "flag provided but not defined"},
		{"bad trust file", []string{p("seal/ofdrw_UserV4.esl"), "--trust", p("seal/ofdrw_UserV4.esl")}, verify.ExitUsage, nil, "neither PEM nor a DER certificate or CRL"},
		{"empty trust directory", []string{p("seal/ofdrw_UserV4.esl"), "--trust", p("vectors")}, verify.ExitUsage, nil, "holds no certificate or CRL file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := verify.RunCLI(tc.args, &out, &errb)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
			for _, s := range tc.stdout {
				require.Contains(t, out.String(), s)
			}
			require.Contains(t, errb.String(), tc.stderr)
		})
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, verify.ExitIntact, verify.RunCLI([]string{"--json", filepath.Join(ext, "ofd/conv1_gomain_zhejiang_tax.ofd")}, &out, &bytes.Buffer{}))
	var r verify.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	require.Equal(t, verify.Intact, r.Verdict)
	require.Contains(t, r.Summary, "could not be established")
	require.Equal(t, verify.KindOFD, r.Kind)
	require.Equal(t, "33010600000001", r.Signed[0].SealID)
	require.Equal(t, verify.Pass, r.Find("signature.outer")[0].Status)
}
