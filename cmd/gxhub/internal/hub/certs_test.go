package hub_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/pki"
	certsserver "github.com/gxhub/gxhub/certs/server"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// Demo departments by index in hub.DemoDepartments.
const (
	demoCoordinator = 0 // 大数据应用发展管理局
	demoIssuer      = 1 // 市场监督管理局 (issuer)
	demoHolder      = 2 // 公安局 (holds the licence in these tests)
	demoApprover    = 7 // 渝北区政务服务管理办公室
	demoOther       = 4 // 住房公积金管理中心
)

var externalDir = filepath.Join("..", "..", "..", "..", "certs", "testdata", "external")

func readExternal(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(externalDir, name))
	require.NoError(t, err)
	return b
}

func (th *testHub) client(t *testing.T, i int) (*sdk.Client, *identity.Identity) {
	t.Helper()
	id := th.identity(t, i)
	c, err := sdk.Dial(context.Background(), id)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, id
}

func checkStatus(r *certsv1.Report, name string) []string {
	var out []string
	for _, c := range r.GetChecks() {
		if c.GetName() == name {
			out = append(out, c.GetStatus())
		}
	}
	return out
}

// The real vendor files verify through the API with the outcomes the testdata README gives:
// the hub's trust store does not hold the vendors' CAs, so crypto-VALID files are INTACT.
func TestVerifyVendorFiles(t *testing.T) {
	th := startHub(t, nil)
	c, _ := th.client(t, demoOther)
	ctx := context.Background()
	cases := []struct {
		file, data string
		verdict    string
		failing    string // a check that must fail for an invalid file
	}{
		{"ofd/v4signed_gomain_chongqing_tax.ofd", "", "INTACT", ""},
		{"ofd/signedFile_gomain_jiangsu_tax.ofd", "", "INTACT", ""},
		{"ofd/conv1_gomain_zhejiang_tax.ofd", "", "INTACT", ""},
		{"ofd/999_kinggrid_chongqing_test.ofd", "", "INTACT", ""},
		{"ofd/gbt35275_gomain_yunnan_pathclip.ofd", "", "INTACT", ""},
		{"ofd/SESV4SignDoc_expired_at_signing.ofd", "", "INVALID", "signer.validity_at_signing"},
		{"seal/ofdrw_UserV1.esl", "", "INTACT", ""},
		{"seal/ofdrw_UserV4.esl", "", "INTACT", ""},
		// The README: maker certificate valid 2020..2022, seal made 2026: certs/verify rejects it.
		{"seal/ofdrw_UserV5_ts.esl", "", "INVALID", "maker.validity_at_seal_creation"},
		{"seal/ofdrw_SESealData_gede.der", "", "INVALID", "seal.maker_signature"},
		{"ses/keyword_tongz_rawRS_SignedValue.dat", "ses/keyword_tongz_rawRS_Signature.xml", "INTACT", ""},
		{"ses/zsbk_ynca_badIA5_SignedValue.dat", "ses/zsbk_ynca_badIA5_Signature.xml", "INTACT", ""},
		{"ses/n_dms360_v1_SignedValue.dat", "ses/n_dms360_v1_Signature.xml", "INVALID", "signature.data_hash"},
		{"ses/ofdrw_SignedValueV4.dat", "ses/ofdrw_Signature.xml", "INVALID", "signature.data_hash"},
	}
	var intact, invalid int
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			req := &certsv1.VerifyRequest{Name: filepath.Base(tc.file), Content: readExternal(t, tc.file)}
			if tc.data != "" {
				req.Data = readExternal(t, tc.data)
			}
			resp, err := c.Verify.Verify(ctx, req)
			require.NoError(t, err)
			r := resp.GetReport()
			require.Equal(t, tc.verdict, r.GetVerdict(), "%v", r.GetChecks())
			require.Len(t, r.GetInputSm3(), 64)
			if tc.verdict == "INTACT" {
				intact++
				require.Contains(t, r.GetSummary(), "could not be established")
			} else {
				invalid++
			}
			if tc.failing != "" {
				require.Contains(t, checkStatus(r, tc.failing), "fail", "%v", r.GetChecks())
			} else {
				// Vendor CAs are not in the hub's trust: the chain is unknown, not failed.
				require.NotContains(t, checkStatus(r, "signer.chain"), "fail")
			}
		})
	}

	t.Run("batch: each item its own result", func(t *testing.T) {
		resp, err := c.Verify.VerifyBatch(ctx, &certsv1.VerifyBatchRequest{Items: []*certsv1.VerifyRequest{
			{Name: "good", Content: readExternal(t, "ofd/conv1_gomain_zhejiang_tax.ofd")},
			{Name: "junk", Content: []byte("not a document")},
			{Name: "bad", Content: readExternal(t, "seal/ofdrw_SESealData_gede.der")},
		}})
		require.NoError(t, err)
		require.Len(t, resp.GetResults(), 3)
		require.Equal(t, "INTACT", resp.GetResults()[0].GetReport().GetVerdict())
		require.Equal(t, "INPUT_UNRECOGNISED", resp.GetResults()[1].GetErrorReason())
		require.Nil(t, resp.GetResults()[1].GetReport())
		require.Equal(t, "INVALID", resp.GetResults()[2].GetReport().GetVerdict())
		_, err = c.Verify.VerifyBatch(ctx, &certsv1.VerifyBatchRequest{Items: make([]*certsv1.VerifyRequest, certsserver.MaxVerifyBatch+1)})
		require.Equal(t, "BATCH_SIZE_INVALID", server.Reason(err))
	})

	t.Run("REST: signed JSON with base64 content", func(t *testing.T) {
		body, err := json.Marshal(map[string]any{"name": "seal.esl", "content": base64.StdEncoding.EncodeToString(readExternal(t, "seal/ofdrw_UserV4.esl"))})
		require.NoError(t, err)
		code, out := th.rest(t, http.MethodPost, "/v1/verify", sign(t, th.identity(t, demoOther), http.MethodPost, "/v1/verify", body, time.Now()), body)
		require.Equal(t, http.StatusOK, code, "%v", out)
		require.Equal(t, "INTACT", out["report"].(map[string]any)["verdict"])
		code, out = th.rest(t, http.MethodPost, "/v1/verify", "", body)
		require.Equal(t, http.StatusUnauthorized, code, "verification needs a signed request: %v", out)
		// The REST body limit (8 MiB, documented in docs/CERTS.md) holds for verification.
		big, err := json.Marshal(map[string]any{"name": "big.ofd", "content": base64.StdEncoding.EncodeToString(make([]byte, 7<<20))})
		require.NoError(t, err)
		code, out = th.rest(t, http.MethodPost, "/v1/verify", sign(t, th.identity(t, demoOther), http.MethodPost, "/v1/verify", big, time.Now()), big)
		require.Equal(t, http.StatusRequestEntityTooLarge, code, "%v", out)
		require.Equal(t, "BODY_TOO_LARGE", out["reason"])
	})

	t.Run("audited: one cert.verify record per input, with its SM3", func(t *testing.T) {
		content := readExternal(t, "seal/ofdrw_UserV4.esl")
		want := sm.Sum(content)
		var ok, failed int
		found := false
		for i := range th.h.Audit.Log.Size() {
			e, err := th.h.Audit.Log.GetRecord(ctx, i)
			require.NoError(t, err)
			if e.Record.Kind != certsserver.KindCertVerify {
				continue
			}
			switch e.Record.Outcome {
			case ledger.OutcomeOK:
				ok++
			case ledger.OutcomeFailed:
				failed++
			}
			found = found || bytes.Equal(e.Record.ResponseDigest, want[:])
		}
		require.True(t, found)
		require.Equal(t, intact+2, ok, "intact files (nothing failed), 1 intact batch item, 1 intact REST call")
		require.Equal(t, invalid+2, failed, "invalid files, 1 unrecognised and 1 invalid batch item")
	})
}

// An OFD changed after signing fails, naming the reference that no longer matches.
func TestVerifyTamperedOFD(t *testing.T) {
	th := startHub(t, nil)
	c, _ := th.client(t, demoOther)
	orig := readExternal(t, "ofd/v4signed_gomain_chongqing_tax.ofd")
	zr, err := zip.NewReader(bytes.NewReader(orig), int64(len(orig)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	changed := ""
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		if changed == "" && filepath.Base(f.Name) == "Content.xml" {
			b = append(b, ' ')
			changed = f.Name
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NotEmpty(t, changed)
	resp, err := c.Verify.Verify(context.Background(), &certsv1.VerifyRequest{Name: "tampered.ofd", Content: buf.Bytes()})
	require.NoError(t, err)
	r := resp.GetReport()
	require.Equal(t, "INVALID", r.GetVerdict())
	found := false
	for _, ch := range r.GetChecks() {
		if ch.GetStatus() == "fail" && ch.GetName() == "reference["+changed+"]" {
			found = true
			require.Contains(t, ch.GetReason(), "changed after signing")
		}
	}
	require.True(t, found, "the changed file %s is named: %v", changed, r.GetChecks())
}

// licence builds a 营业执照 issued by issuer for holder.
func licence(t *testing.T, cat *ecert.Catalogue, issuer, holder *identity.Identity, serial string, version int) *ecert.Metadata {
	t.Helper()
	var bl ecert.CertType
	for _, ty := range cat.Types() {
		if ty.Name == "营业执照" {
			bl = ty
		}
	}
	require.NotEmpty(t, bl.Code)
	id, err := ecert.NewIdentifier(bl.Code, issuer.Code, serial, version)
	require.NoError(t, err)
	m, err := ecert.NewMetadata(bl, id)
	require.NoError(t, err)
	today := ecert.DateOf(time.Now().In(ecert.ChinaTime))
	m.Number, m.IssuerName, m.IssueDate = "500000"+serial, issuer.Name, today
	m.HolderName, m.HolderCode, m.ValidFrom = holder.Name, holder.Code, today
	m.Items = map[string]string{"entity_name": holder.Name, "entity_type": "机关", "legal_representative": "张三",
		"established_on": "2020-01-02", "domicile": "重庆市渝北区", "business_scope": "演示"}
	return m
}

// storeCases runs the registry tests on both stores.
var storeCases = map[string]func(t *testing.T) func(*config.Config){
	"sqlite": func(*testing.T) func(*config.Config) { return nil },
	"postgres": func(t *testing.T) func(*config.Config) {
		dsn := pgtest.FreshSchemaDSN(t)
		return func(c *config.Config) { c.Store.Driver, c.Store.PostgresDSN = "postgres", dsn }
	},
}

func TestECertLifecycle(t *testing.T) {
	for name, mutate := range storeCases {
		t.Run(name, func(t *testing.T) { testECertLifecycle(t, startHub(t, mutate(t))) })
	}
}

func testECertLifecycle(t *testing.T, th *testHub) {
	ctx := context.Background()
	iss, issID := th.client(t, demoIssuer)
	holder, holderID := th.client(t, demoHolder)
	approver, approverID := th.client(t, demoApprover)
	other, _ := th.client(t, demoOther)
	cat, err := iss.Catalogue(ctx)
	require.NoError(t, err)

	m := licence(t, cat, issID, holderID, "2026000001", 1)
	e, err := iss.IssueLicence(ctx, m, "")
	require.NoError(t, err)
	require.Equal(t, "active", e.GetStatus())
	require.Equal(t, m.Identifier, e.GetIdentifier())

	verifyTok := func(tok string) *certsv1.Report {
		resp, err := other.Verify.Verify(ctx, &certsv1.VerifyRequest{Name: "licence", Content: []byte(tok)})
		require.NoError(t, err)
		return resp.GetReport()
	}
	r := verifyTok(e.GetSealed())
	require.Equal(t, "VALID", r.GetVerdict(), "%v", r.GetChecks())
	require.Equal(t, []string{"pass"}, checkStatus(r, "ecert.status"))
	require.Equal(t, []string{"pass"}, checkStatus(r, "signer.chain"))
	require.Equal(t, []string{"pass"}, checkStatus(r, "signer.revocation"), "the department's registered certificate")

	t.Run("fail/not the issuer", func(t *testing.T) {
		_, err := other.IssueLicence(ctx, licence(t, cat, issID, holderID, "2026000002", 1), "")
		require.Error(t, err, "only the issuing authority's own key seals its licences")
		_, err = iss.ECert.IssueECert(ctx, &certsv1.IssueECertRequest{Sealed: e.GetSealed()})
		require.Equal(t, codes.AlreadyExists, status.Code(err))
	})

	t.Run("presentation", func(t *testing.T) {
		p, err := holder.ECert.PresentECert(ctx, &certsv1.PresentECertRequest{Identifier: m.Identifier, Audience: approverID.Code, Purpose: "办理公积金提取", LifetimeSeconds: 60})
		require.NoError(t, err)
		ok, err := approver.ECert.VerifyPresentation(ctx, &certsv1.VerifyPresentationRequest{Token: p.GetToken(), ExpectedPurpose: "办理公积金提取"})
		require.NoError(t, err)
		require.Equal(t, "VALID", ok.GetReport().GetVerdict(), "%v", ok.GetReport().GetChecks())
		require.Equal(t, holderID.Code, ok.GetHolderCode())

		wrong, err := approver.ECert.VerifyPresentation(ctx, &certsv1.VerifyPresentationRequest{Token: p.GetToken(), ExpectedPurpose: "办理出入境"})
		require.NoError(t, err)
		require.Equal(t, []string{"fail"}, checkStatus(wrong.GetReport(), "presentation.purpose"))

		stranger, err := other.ECert.VerifyPresentation(ctx, &certsv1.VerifyPresentationRequest{Token: p.GetToken()})
		require.NoError(t, err)
		require.Equal(t, []string{"fail"}, checkStatus(stranger.GetReport(), "presentation.audience"))

		viaVerify, err := approver.Verify.Verify(ctx, &certsv1.VerifyRequest{Content: []byte(p.GetToken())})
		require.NoError(t, err)
		require.Equal(t, "VALID", viaVerify.GetReport().GetVerdict())

		_, err = holder.ECert.PresentECert(ctx, &certsv1.PresentECertRequest{Identifier: m.Identifier, Audience: approverID.Code, Purpose: " "})
		require.Equal(t, "PURPOSE_MISSING", server.Reason(err))
		_, err = other.ECert.PresentECert(ctx, &certsv1.PresentECertRequest{Identifier: m.Identifier, Audience: approverID.Code, Purpose: "x"})
		require.Equal(t, "ECERT_NOT_HOLDER", server.Reason(err))

		short, err := holder.ECert.PresentECert(ctx, &certsv1.PresentECertRequest{Identifier: m.Identifier, Audience: approverID.Code, Purpose: "办理公积金提取", LifetimeSeconds: 1})
		require.NoError(t, err)
		// The presentation lives one second: wait until the hub says its window has passed.
		require.Eventually(t, func() bool {
			expired, err := approver.ECert.VerifyPresentation(ctx, &certsv1.VerifyPresentationRequest{Token: short.GetToken()})
			require.NoError(t, err)
			return slices.Equal([]string{"fail"}, checkStatus(expired.GetReport(), "presentation.window"))
		}, time.Minute, 100*time.Millisecond, "a one-second presentation is still accepted")
	})

	t.Run("suspend, resume, revoke", func(t *testing.T) {
		s, err := iss.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: m.Identifier, Action: certsv1.StatusAction_STATUS_ACTION_SUSPEND, Reason: "核查"})
		require.NoError(t, err)
		require.Equal(t, "suspended", s.GetEcert().GetStatus())
		r := verifyTok(e.GetSealed())
		require.Equal(t, "INVALID", r.GetVerdict())
		require.Equal(t, []string{"fail"}, checkStatus(r, "ecert.status"))
		_, err = holder.ECert.PresentECert(ctx, &certsv1.PresentECertRequest{Identifier: m.Identifier, Audience: approverID.Code, Purpose: "x"})
		require.Equal(t, "ECERT_NOT_USABLE", server.Reason(err))

		_, err = other.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: m.Identifier, Action: certsv1.StatusAction_STATUS_ACTION_RESUME})
		require.Equal(t, codes.PermissionDenied, status.Code(err))
		_, err = iss.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: m.Identifier, Action: certsv1.StatusAction_STATUS_ACTION_RESUME})
		require.NoError(t, err)
		require.Equal(t, "VALID", verifyTok(e.GetSealed()).GetVerdict())

		_, err = iss.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: m.Identifier, Action: certsv1.StatusAction_STATUS_ACTION_REVOKE, Reason: "吊销"})
		require.NoError(t, err)
		r = verifyTok(e.GetSealed())
		require.Equal(t, "INVALID", r.GetVerdict())
		require.Equal(t, []string{"fail"}, checkStatus(r, "ecert.status"))
		_, err = iss.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: m.Identifier, Action: certsv1.StatusAction_STATUS_ACTION_RESUME})
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "revoked is final")

		past, err := other.ECert.GetECertStatus(ctx, &certsv1.GetECertStatusRequest{Identifier: m.Identifier, At: e.GetIssuedAt()})
		require.NoError(t, err)
		require.Equal(t, "active", past.GetStatus(), "status at the issue time")
	})

	t.Run("register a licence type", func(t *testing.T) {
		ty := &certsv1.CertType{Code: issID.Code + "001", Name: "食品经营许可证", DefinerName: issID.Name, HolderType: "001",
			Items: []*certsv1.CertItem{{Key: "scope", Name: "经营项目", Required: true}}}
		got, err := iss.ECert.RegisterCertType(ctx, &certsv1.RegisterCertTypeRequest{Type: ty})
		require.NoError(t, err)
		require.Equal(t, ty.GetCode(), got.GetCode())
		_, err = iss.ECert.RegisterCertType(ctx, &certsv1.RegisterCertTypeRequest{Type: ty})
		require.Equal(t, codes.AlreadyExists, status.Code(err))
		foreign := &certsv1.CertType{Code: holderID.Code + "001", Name: "x", DefinerName: "x", HolderType: "001"}
		_, err = iss.ECert.RegisterCertType(ctx, &certsv1.RegisterCertTypeRequest{Type: foreign})
		require.Equal(t, "ECERT_TYPE_NOT_DEFINER", server.Reason(err))
		_, err = other.ECert.RegisterCertType(ctx, &certsv1.RegisterCertTypeRequest{Type: ty})
		require.Equal(t, codes.PermissionDenied, status.Code(err), "the issuer role is needed")

		// A licence of the new type issues and verifies.
		cat, err := iss.Catalogue(ctx)
		require.NoError(t, err)
		nt, ok := cat.Lookup(ty.GetCode())
		require.True(t, ok)
		id, err := ecert.NewIdentifier(nt.Code, issID.Code, "F0001", 1)
		require.NoError(t, err)
		fm, err := ecert.NewMetadata(nt, id)
		require.NoError(t, err)
		today := ecert.DateOf(time.Now().In(ecert.ChinaTime))
		fm.Number, fm.IssuerName, fm.IssueDate, fm.HolderName, fm.HolderCode, fm.ValidFrom = "JY1", issID.Name, today, holderID.Name, holderID.Code, today
		fm.Items = map[string]string{"scope": "预包装食品销售"}
		fe, err := iss.IssueLicence(ctx, fm, "")
		require.NoError(t, err)
		require.Equal(t, "VALID", verifyTok(fe.GetSealed()).GetVerdict())
	})

	t.Run("update supersedes, list by holder", func(t *testing.T) {
		m1 := licence(t, cat, issID, holderID, "2026000003", 1)
		_, err := iss.IssueLicence(ctx, m1, "")
		require.NoError(t, err)
		m2 := licence(t, cat, issID, holderID, "2026000003", 2)
		m2.Items["domicile"] = "重庆市江北区"
		v2, err := iss.IssueLicence(ctx, m2, m1.Identifier)
		require.NoError(t, err)
		require.Equal(t, int32(2), v2.GetVersion())
		old, err := other.ECert.GetECertStatus(ctx, &certsv1.GetECertStatusRequest{Identifier: m1.Identifier})
		require.NoError(t, err)
		require.Equal(t, "superseded", old.GetStatus())
		list, err := other.ECert.ListECerts(ctx, &certsv1.ListECertsRequest{HolderCode: holderID.Code})
		require.NoError(t, err)
		require.Len(t, list.GetEcerts(), 4)
		_, err = iss.IssueLicence(ctx, licence(t, cat, issID, holderID, "2026000003", 5), m2.Identifier)
		require.Equal(t, "ECERT_VERSION_INVALID", server.Reason(err))
	})
}

func TestSeals(t *testing.T) {
	for name, mutate := range storeCases {
		t.Run(name, func(t *testing.T) { testSeals(t, startHub(t, mutate(t))) })
	}
}

func testSeals(t *testing.T, th *testHub) {
	ctx := context.Background()
	iss, issID := th.client(t, demoIssuer)
	coord, _ := th.client(t, demoCoordinator)
	other, _ := th.client(t, demoOther)

	made, err := iss.Seal.MakeSeal(ctx, &certsv1.MakeSealRequest{DepartmentCode: issID.Code, Name: issID.Name + "电子证照专用章"})
	require.NoError(t, err)
	seal := made.GetSeal()
	require.Equal(t, "active", seal.GetStatus())
	_, err = other.Seal.MakeSeal(ctx, &certsv1.MakeSealRequest{DepartmentCode: issID.Code, Name: "x"})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = coord.Seal.MakeSeal(ctx, &certsv1.MakeSealRequest{DepartmentCode: issID.Code, Name: "第二枚章"})
	require.NoError(t, err, "a coordinator makes seals for any department")
	list, err := other.Seal.ListSeals(ctx, &certsv1.ListSealsRequest{DepartmentCode: issID.Code})
	require.NoError(t, err)
	require.Len(t, list.GetSeals(), 2)

	certDER := func() []byte {
		p, err := pemDecode(issID.CertPEM)
		require.NoError(t, err)
		return p
	}()
	signDoc := func(data []byte, at time.Time) []byte {
		sig, err := ses.SignV4(ses.SignRequest{Seal: seal.GetDer(), Key: issID.Key, Cert: certDER, Data: data, PropertyInfo: "doc.xml", Time: at})
		require.NoError(t, err)
		return sig
	}
	data := []byte("<doc>证明</doc>")
	resp, err := other.Verify.Verify(ctx, &certsv1.VerifyRequest{Content: signDoc(data, time.Now()), Data: data})
	require.NoError(t, err)
	r := resp.GetReport()
	require.Equal(t, "VALID", r.GetVerdict(), "%v", r.GetChecks())
	require.Equal(t, []string{"pass"}, checkStatus(r, "seal.revocation"))
	require.Equal(t, []string{"pass"}, checkStatus(r, "maker.chain"), "the maker certificate chains to the hub root")

	_, err = other.Seal.RevokeSeal(ctx, &certsv1.RevokeSealRequest{Esid: seal.GetEsid()})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	rev, err := iss.Seal.RevokeSeal(ctx, &certsv1.RevokeSealRequest{Esid: seal.GetEsid(), Reason: "印章遗失"})
	require.NoError(t, err)
	require.Equal(t, "revoked", rev.GetSeal().GetStatus())
	// Signed a second after the revocation (timeInfo has second precision).
	resp, err = other.Verify.Verify(ctx, &certsv1.VerifyRequest{Content: signDoc(data, rev.GetSeal().GetRevokedAt().AsTime().Add(time.Second)), Data: data})
	require.NoError(t, err)
	require.Equal(t, "INVALID", resp.GetReport().GetVerdict())
	require.Equal(t, []string{"fail"}, checkStatus(resp.GetReport(), "seal.revocation"))
}

func pemDecode(b []byte) ([]byte, error) {
	certs, err := pki.ParseCertsPEM(b)
	if err != nil {
		return nil, err
	}
	return certs[0].Raw, nil
}
