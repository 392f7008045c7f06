package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ofd"
)

func external(name string) string {
	return filepath.Join("..", "..", "certs", "testdata", "external", name)
}

// The verify commands exit by verdict: 0 VALID, 1 INVALID, 2 usage or unreadable input,
// 3 INTACT, 4 UNSUPPORTED; the e-certificate and seal commands drive the hub's registries.
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
		{"intact OFD (no trust roots)", []string{"verify", external("ofd/conv1_gomain_zhejiang_tax.ofd")}, 3, "INTACT 签名完整，信任未确认"},
		{"GB/T 35275 OFD", []string{"verify", external("ofd/gbt35275_gomain_yunnan_pathclip.ofd")}, 3, "INTACT"},
		{"invalid OFD", []string{"verify", external("ofd/SESV4SignDoc_expired_at_signing.ofd")}, 1, "signer.validity_at_signing"},
		{"SES with data, json", []string{"verify", external("ses/keyword_tongz_rawRS_SignedValue.dat"), "--data", external("ses/keyword_tongz_rawRS_Signature.xml"), "--json"}, 3, `"verdict": "INTACT"`},
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
		require.Equal(t, 3, code, "the tax CA is not in the hub's trust store: %s", out)
		out, code = gxctl(t, gxctlBin, "--identity", other, "verify", "--online", "--json", external("seal/ofdrw_SESealData_gede.der"))
		require.Equal(t, 1, code, out)
		var rep struct {
			Verdict string `json:"verdict"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		require.Equal(t, "INVALID", rep.Verdict)
		out, code = gxctl(t, gxctlBin, "verify", "--online", junk, "--identity", other)
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "INPUT_UNRECOGNISED")

		out, code = gxctl(t, gxctlBin, "--identity", other, "verify-batch", external("ofd/conv1_gomain_zhejiang_tax.ofd"), external("seal/ofdrw_UserV4.esl"))
		require.Equal(t, 3, code, out)
		require.Contains(t, out, "2 file(s): 0 VALID, 2 INTACT, 0 INVALID, 0 UNSUPPORTED, 0 unreadable")
		out, code = gxctl(t, gxctlBin, "--identity", other, "verify-batch", external("ofd/conv1_gomain_zhejiang_tax.ofd"), external("seal/ofdrw_SESealData_gede.der"), junk)
		require.Equal(t, 1, code, "INVALID outranks the rest: %s", out)
		require.Contains(t, out, "1 INTACT, 1 INVALID, 0 UNSUPPORTED, 1 unreadable")
		out, code = gxctl(t, gxctlBin, "--identity", other, "verify-batch", external("ofd/conv1_gomain_zhejiang_tax.ofd"), junk)
		require.Equal(t, 2, code, out)
	})

	t.Run("ecert issue, present, revoke", func(t *testing.T) {
		typeCode := licenceType(t, gxctlBin, market)
		sealed := filepath.Join(t.TempDir(), "licence.jws")
		out, code := gxctl(t, gxctlBin, "--identity", market, "ecert", "issue", "--type", typeCode, "--serial", "2026000777",
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
		require.Equal(t, 3, code, "offline: signature and metadata check, chain and status unknown: %s", out)
		hubTrust := filepath.Join(t.TempDir(), "hub-trust.pem")
		out, code = gxctl(t, gxctlBin, "--identity", other, "trust", "-o", hubTrust)
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "verify", sealed, "--trust", hubTrust)
		require.Equal(t, 3, code, "offline with the hub's root the registry status is still unknown: %s", out)
		require.Contains(t, out, "ecert.status")
		out, code = gxctl(t, gxctlBin, "verify", sealed, "--online", "--identity", other)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "VALID")

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
		require.Equal(t, 3, code, "a standalone seal has no signing time: %s", out)
		out, code = gxctl(t, gxctlBin, "--identity", other, "seal", "make", "--department", filepath.Base(market), "--name", "x")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "ROLE_REQUIRED")
		out, code = gxctl(t, gxctlBin, "--identity", coordinator, "seal", "list", "--department", filepath.Base(market))
		require.Equal(t, 0, code, out)
		require.Contains(t, out, esid)
		// Seal a document with the seal (by esID) and the department's key; the hub
		// verifies and keeps it; verified online it is VALID.
		doc := filepath.Join(t.TempDir(), "signed.ofd")
		out, code = gxctl(t, gxctlBin, "--identity", market, "seal", "sign", "--seal", esid, "--in", external("ofd/999_kinggrid_chongqing_test.ofd"), "--out", doc)
		require.Equal(t, 1, code, "the tax seal already on it is not trusted by the hub: %s", out)
		require.Contains(t, out, "DOCUMENT_NOT_VALID")
		require.Contains(t, out, "verifies INTACT")
		unsigned := filepath.Join(t.TempDir(), "letter.ofd")
		require.NoError(t, os.WriteFile(unsigned, letterOFD(t), 0o644))
		out, code = gxctl(t, gxctlBin, "--identity", market, "seal", "sign", "--seal", esid, "--in", unsigned, "--out", doc, "--page", "1", "--x", "120", "--y", "200")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "registered as sm3")
		require.Contains(t, out, "VALID")
		out, code = gxctl(t, gxctlBin, "verify", doc, "--online", "--identity", other)
		require.Equal(t, 0, code, out)
		out, code = gxctl(t, gxctlBin, "--identity", market, "seal", "documents")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "signed.ofd")

		// A licence issued also as a sealed GB/T 36905 OFD file.
		typeCode := licenceType(t, gxctlBin, market)
		lic := filepath.Join(t.TempDir(), "licence.ofd")
		out, code = gxctl(t, gxctlBin, "--identity", market, "ecert", "issue", "--type", typeCode, "--serial", "2026000888",
			"--holder-code", policeCode, "--holder-name", "重庆市公安局", "--number", "500000000888",
			"--item", "entity_name=重庆市公安局", "--item", "entity_type=机关", "--item", "legal_representative=张三",
			"--item", "established_on=2000-01-01", "--item", "domicile=重庆市渝中区", "--item", "business_scope=公共安全",
			"--ofd", lic, "--seal", esl)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "licence file "+lic)
		out, code = gxctl(t, gxctlBin, "verify", lic, "--online", "--identity", other)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "ecert.status")
		out, code = gxctl(t, gxctlBin, "verify", lic)
		require.Equal(t, 3, code, "offline the licence's status is unknown: %s", out)
		out, code = gxctl(t, gxctlBin, "--identity", other, "trust-store", "show")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "hub root")
		out, code = gxctl(t, gxctlBin, "--identity", other, "trust-store", "crl-add", "http://127.0.0.1:1/ca.crl")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "ROLE_REQUIRED")

		out, code = gxctl(t, gxctlBin, "--identity", market, "seal", "revoke", esid, "--reason", "遗失")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "revoked")
	})
}

// letterOFD is a one-page unsigned OFD letter.
func letterOFD(t *testing.T) []byte {
	b, err := ofd.Pack([]string{"OFD.xml", "Doc_0/Document.xml", "Doc_0/Pages/Page_0/Content.xml"}, map[string][]byte{
		"OFD.xml":                        []byte(`<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" DocType="OFD" Version="1.1"><ofd:DocBody><ofd:DocInfo><ofd:DocID>letter</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`),
		"Doc_0/Document.xml":             []byte(`<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData><ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>`),
		"Doc_0/Pages/Page_0/Content.xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer ID="2"><ofd:TextObject ID="3" Boundary="20 20 170 10" Font="4" Size="5"><ofd:TextCode X="0" Y="5">关于数据共享的函</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>`),
	})
	require.NoError(t, err)
	return b
}

// licenceType returns the code of the 营业执照 type from gxctl ecert types.
func licenceType(t *testing.T, gxctlBin, id string) string {
	out, code := gxctl(t, gxctlBin, "--identity", id, "ecert", "types")
	require.Equal(t, 0, code, out)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "营业执照") {
			return strings.Fields(l)[0]
		}
	}
	t.Fatalf("no 营业执照 type: %s", out)
	return ""
}
