package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func external(name string) string {
	return filepath.Join("..", "..", "certs", "testdata", "external", name)
}

// The verify commands follow the verifier convention: 0 valid, 1 invalid, 2 usage or
// unreadable input; the e-certificate and seal commands drive the hub's registries.
func TestCertsCLI(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	junk := filepath.Join(t.TempDir(), "junk.bin")
	require.NoError(t, os.WriteFile(junk, []byte("not a document"), 0o644))

	offline := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"valid OFD", []string{"verify", external("ofd/conv1_gomain_zhejiang_tax.ofd")}, 0, "VALID"},
		{"invalid OFD", []string{"verify", external("ofd/SESV4SignDoc_expired_at_signing.ofd")}, 1, "signer.validity_at_signing"},
		{"SES with data, json", []string{"verify", external("ses/keyword_tongz_rawRS_SignedValue.dat"), "--data", external("ses/keyword_tongz_rawRS_Signature.xml"), "--json"}, 0, `"verdict": "valid"`},
		{"SES without data", []string{"verify", external("ses/keyword_tongz_rawRS_SignedValue.dat")}, 2, "--data"},
		{"unrecognised input", []string{"verify", junk}, 2, "unrecognised"},
		{"no file", []string{"verify"}, 2, "exactly one FILE"},
		{"missing file", []string{"verify", "/nonexistent.ofd"}, 2, "no such file"},
	}
	for _, tc := range offline {
		t.Run("offline/"+tc.name, func(t *testing.T) {
			out, code := gxctl(t, gxctlBin, tc.args...)
			require.Equal(t, tc.code, code, out)
			require.Contains(t, out, tc.want)
		})
	}

	hub := startGxhub(t, gxhubBin, t.TempDir(), freePort(t))
	ids := hub.identities()
	require.GreaterOrEqual(t, len(ids), 8, "demo identities: %v", hub.out)
	coordinator, market, police, approver, other := ids[0], ids[1], ids[2], ids[7], ids[4]
	policeCode, approverCode := filepath.Base(police), filepath.Base(approver)

	t.Run("online verify and batch", func(t *testing.T) {
		out, code := gxctl(t, gxctlBin, "verify", external("ofd/conv1_gomain_zhejiang_tax.ofd"), "--online", "--identity", other)
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", other, "verify", "--online", "--json", external("seal/ofdrw_SESealData_gede.der"))
		require.Equal(t, 1, code, out)
		var rep struct {
			Verdict string `json:"verdict"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		require.Equal(t, "invalid", rep.Verdict)
		out, code = gxctl(t, gxctlBin, "verify", "--online", junk, "--identity", other)
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "INPUT_UNRECOGNISED")

		out, code = gxctl(t, gxctlBin, "--identity", other, "verify-batch", external("ofd/conv1_gomain_zhejiang_tax.ofd"), external("seal/ofdrw_UserV4.esl"))
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", other, "verify-batch", external("ofd/conv1_gomain_zhejiang_tax.ofd"), external("seal/ofdrw_SESealData_gede.der"))
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "INVALID")
		out, code = gxctl(t, gxctlBin, "--identity", other, "verify-batch", external("ofd/conv1_gomain_zhejiang_tax.ofd"), junk)
		require.Equal(t, 2, code, out)
	})

	t.Run("ecert issue, present, revoke", func(t *testing.T) {
		out, code := gxctl(t, gxctlBin, "--identity", market, "ecert", "types")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "营业执照")
		typeCode := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "营业执照") {
				typeCode = strings.Fields(l)[0]
			}
		}
		sealed := filepath.Join(t.TempDir(), "licence.jws")
		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "issue", "--type", typeCode, "--serial", "2026000777",
			"--holder-code", policeCode, "--holder-name", "重庆市公安局", "--number", "500000000777",
			"--item", "entity_name=重庆市公安局", "--item", "entity_type=机关", "--item", "legal_representative=张三",
			"--item", "established_on=2000-01-01", "--item", "domicile=重庆市渝中区", "--item", "business_scope=公共安全", "--out", sealed)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "active")
		identifier := ""
		for _, f := range strings.Fields(out) {
			if strings.HasPrefix(f, "1.2.156.") {
				identifier = f
			}
		}
		require.NotEmpty(t, identifier, out)

		out, code = gxctl(t, gxctlBin, "--identity", other, "ecert", "issue", "--type", typeCode, "--serial", "1", "--holder-code", policeCode,
			"--holder-name", "x", "--number", "1")
		require.Equal(t, 2, code, "required items are checked before sealing: %s", out)
		require.Contains(t, out, "required item entity_name")
		out, code = gxctl(t, gxctlBin, "--identity", other, "ecert", "issue", "--type", typeCode, "--serial", "1", "--holder-code", policeCode,
			"--holder-name", "x", "--number", "1", "--item", "entity_name=x", "--item", "entity_type=x", "--item", "legal_representative=x",
			"--item", "established_on=2000-01-01", "--item", "domicile=x", "--item", "business_scope=x")
		require.Equal(t, 1, code, "a department without the issuer role is refused: %s", out)
		require.Contains(t, out, "ROLE_REQUIRED")

		out, code = gxctl(t, gxctlBin, "verify", sealed)
		require.Equal(t, 0, code, "offline: signature and metadata check, chain and status unknown: %s", out)
		out, code = gxctl(t, gxctlBin, "verify", sealed, "--online", "--identity", other)
		require.Equal(t, 0, code, out)

		tok := filepath.Join(t.TempDir(), "present.jws")
		out, code = gxctl(t, gxctlBin, "--identity", police, "ecert", "present", identifier, "--to", approverCode, "--purpose", "办理户籍迁移", "--out", tok)
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", approver, "ecert", "verify-presentation", tok, "--purpose", "办理户籍迁移")
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", approver, "ecert", "verify-presentation", tok, "--purpose", "办理出入境")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "presentation.purpose")
		out, code = gxctl(t, gxctlBin, "--identity", other, "ecert", "verify-presentation", tok)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "presentation.audience")

		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "suspend", identifier, "--reason", "核查")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "suspended")
		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "resume", identifier)
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "update", identifier, "--item", "domicile=重庆市江北区")
		require.Equal(t, 0, code, out)
		next := ""
		for _, f := range strings.Fields(out) {
			if strings.HasPrefix(f, "1.2.156.") {
				next = f
			}
		}
		require.NotEqual(t, identifier, next)
		out, code = gxctl(t, gxctlBin, "--identity", other, "ecert", "status", identifier)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "superseded")
		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "revoke", next, "--reason", "吊销")
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "annul", next)
		require.Equal(t, 1, code, "revoked is final: %s", out)
		out, code = gxctl(t, gxctlBin, "--identity", police, "ecert", "list")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "revoked")
		out, code = gxctl(t, gxctlBin, "verify", sealed, "--online", "--identity", other)
		require.Equal(t, 1, code, "the first version is superseded: %s", out)
		require.Contains(t, out, "ecert.status")
	})

	t.Run("seals", func(t *testing.T) {
		esl := filepath.Join(t.TempDir(), "seal.esl")
		out, code := gxctl(t, gxctlBin, "--identity", market, "seal", "make", "--name", "重庆市市场监督管理局电子证照专用章", "--out", esl)
		require.Equal(t, 0, code, out)
		esid := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])[0]
		out, code = gxctl(t, gxctlBin, "verify", esl)
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", other, "seal", "make", "--department", filepath.Base(market), "--name", "x")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "ROLE_REQUIRED")
		out, code = gxctl(t, gxctlBin, "--identity", coordinator, "seal", "list", "--department", filepath.Base(market))
		require.Equal(t, 0, code, out)
		require.Contains(t, out, esid)
		out, code = gxctl(t, gxctlBin, "--identity", market, "seal", "revoke", esid, "--reason", "遗失")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "revoked")
	})
}
