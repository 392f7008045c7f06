package hub_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/sm/smtest"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/sdk"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
)

// unsignedInvoice is a real five-page vendor invoice with its signatures taken out.
func unsignedInvoice(t *testing.T) []byte {
	src := readExternal(t, "ofd/999_kinggrid_chongqing_test.ofd")
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	replace := map[string][]byte{}
	ofdXML, err := pkg.ReadFile("OFD.xml")
	require.NoError(t, err)
	replace["OFD.xml"] = regexp.MustCompile(`<ofd:Signatures>[^<]*</ofd:Signatures>`).ReplaceAll(ofdXML, nil)
	out, err := ofd.Rebuild(src, replace)
	require.NoError(t, err)
	// Drop the old signature files by rebuilding from the kept names only.
	p2, err := ofd.Open(out, ofd.Limits{})
	require.NoError(t, err)
	files := map[string][]byte{}
	var order []string
	for _, n := range p2.Names() {
		if strings.HasPrefix(n, "Doc_0/Signs/") {
			continue
		}
		b, err := p2.ReadFile(n)
		require.NoError(t, err)
		files[n] = b
		order = append(order, n)
	}
	return zipFiles(t, order, files)
}

// A TSA the hub is configured with, whose CA a coordinator loads into the trust bundle and
// whose CRL is a CRL source of the hub: every check of a sealed document can pass.
type tsaFixture struct {
	tsa    *sestest.TSA
	ca     *sestest.CA
	srv    *httptest.Server
	crl    string
	caPEM  string
	remove func()
}

func newTSAFixture(t *testing.T) *tsaFixture {
	t0 := time.Now().Add(-time.Hour)
	ca := sestest.NewCA(t, "省时间戳服务 CA", t0, t0.AddDate(10, 0, 0))
	tsa := ca.NewTSA(t, t0, t0.AddDate(5, 0, 0))
	srv := httptest.NewServer(tsa.Handler(time.Now))
	crl, err := (&pki.CA{Cert: ca.Cert, Key: ca.Key}).CreateCRL([]pki.RevokedCert{{Serial: big.NewInt(999999), RevokedAt: t0, Reason: pki.ReasonSuperseded}},
		time.Now().Add(time.Minute), time.Now().Add(24*time.Hour))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tsa-ca.crl")
	require.NoError(t, os.WriteFile(path, crl, 0o600))
	return &tsaFixture{tsa: tsa, ca: ca, srv: srv, crl: path, caPEM: string(pki.EncodeCertsPEM(ca.Cert)), remove: srv.Close}
}

// The sealing round trip of issue 15: an issuer seals a real invoice with its hub-made
// seal and its own key, with a timestamp from the hub's TSA; the hub verifies it VALID
// (its root, the trust bundle with the TSA's CA, the TSA CA's CRL, its registries) and
// keeps it; OpenSSL verifies the SM2 signature over DER(TBS_Sign); a second seal on the
// sealed document keeps the first valid.
func TestSealDocumentRoundTrip(t *testing.T) {
	tf := newTSAFixture(t)
	defer tf.remove()
	th := startHub(t, func(c *config.Config) { c.Verify.TSAURL = tf.srv.URL })
	ctx := context.Background()
	iss, issID := th.client(t, demoIssuer)
	coord, _ := th.client(t, demoCoordinator)
	other, _ := th.client(t, demoOther)

	// The coordinator trusts the TSA's CA and adds its CRL.
	store, err := coord.TrustStore.GetTrustStore(ctx, &certsv1.GetTrustStoreRequest{})
	require.NoError(t, err)
	put, err := coord.TrustStore.PutTrustBundle(ctx, &certsv1.PutTrustBundleRequest{BundlePem: tf.caPEM, Note: "省时间戳服务", ExpectedVersion: store.GetVersion()})
	require.NoError(t, err)
	require.Equal(t, store.GetVersion()+1, put.GetStore().GetVersion())
	src, err := coord.TrustStore.AddCRLSource(ctx, &certsv1.AddCRLSourceRequest{Location: tf.crl, Note: "TSA CA CRL"})
	require.NoError(t, err)
	require.Empty(t, src.GetLastError())
	require.Equal(t, int32(1), src.GetRevoked())

	seal1, err := iss.Seal.MakeSeal(ctx, &certsv1.MakeSealRequest{DepartmentCode: issID.Code, Name: issID.Name + "公章", Type: 1})
	require.NoError(t, err)
	doc := unsignedInvoice(t)
	signed, reg, err := iss.SealDocument(ctx, doc, seal1.GetSeal().GetDer(), sdk.SealOptions{Page: 1, X: 150, Y: 90, Timestamp: true, Name: "invoice.ofd"})
	require.NoError(t, err)
	r := reg.GetReport()
	require.Equal(t, "VALID", r.GetVerdict(), "%s", r.GetSummary())
	for _, name := range []string{"signer.chain", "signer.revocation", "maker.chain", "maker.revocation", "seal.revocation", "timestamp", "tsa.chain", "tsa.revocation", "references.coverage"} {
		require.Equal(t, []string{"pass"}, checkStatus(r, name), name)
	}
	require.Equal(t, seal1.GetSeal().GetEsid(), reg.GetDocument().GetEsid())
	got, err := other.Seal.GetSealedDocument(ctx, &certsv1.GetSealedDocumentRequest{Sm3: reg.GetDocument().GetSm3()})
	require.NoError(t, err)
	require.Equal(t, signed, got.GetContent(), "the hub keeps the document as registered")

	// OpenSSL checks the SM2 signature over the DER TBS_Sign.
	pkg, err := ofd.Open(signed, ofd.Limits{})
	require.NoError(t, err)
	docs, err := pkg.Documents()
	require.NoError(t, err)
	require.Len(t, docs[0].Signatures, 1)
	sv, err := pkg.ReadFile(docs[0].Signatures[0].SignedValuePath)
	require.NoError(t, err)
	sig, err := ses.ParseSignature(sv)
	require.NoError(t, err)
	smtest.VerifySM2(t, sig.Cert, sig.TBSRaw, sig.Value)
	smtest.VerifySM2(t, sig.Seal.MakerCert, sig.Seal.Info.Raw, sig.Seal.SignedValue)
	require.Contains(t, string(docs[0].Signatures[0].XML), `<ofd:StampAnnot ID="1" PageRef="10" Boundary="150 90 40 40"/>`)

	// A second seal on the sealed document: the first signature stays valid.
	seal2, err := coord.Seal.MakeSeal(ctx, &certsv1.MakeSealRequest{DepartmentCode: issID.Code, Name: issID.Name + "合同专用章"})
	require.NoError(t, err)
	twice, reg2, err := iss.SealDocument(ctx, signed, seal2.GetSeal().GetDer(), sdk.SealOptions{Name: "invoice-2.ofd"})
	require.NoError(t, err)
	require.Equal(t, "VALID", reg2.GetReport().GetVerdict(), "%s", reg2.GetReport().GetSummary())
	require.Len(t, reg2.GetReport().GetSigned(), 2)
	require.Equal(t, int32(2), reg2.GetDocument().GetSignatures())
	for _, c := range reg2.GetReport().GetChecks() {
		if strings.HasPrefix(c.GetName(), "reference[") {
			require.Equal(t, "pass", c.GetStatus(), "%s %s", c.GetScope(), c.GetName())
		}
	}

	// Offline, with the hub's root only: the seal registry is out of reach, so INTACT.
	roots, err := pki.ParseCertsPEM(th.identity(t, demoOther).CAChainPEM)
	require.NoError(t, err)
	rep, err := verify.Verify(ctx, twice, verify.Options{Roots: roots[len(roots)-1:], Intermediates: roots[:len(roots)-1]})
	require.NoError(t, err)
	require.Equal(t, verify.Intact, rep.Verdict, rep.Summary)
	for _, c := range rep.Find("signer.chain") {
		require.Equal(t, verify.Pass, c.Status, c.Reason)
	}
	for _, c := range rep.Find("seal.revocation") {
		require.Equal(t, verify.Unknown, c.Status, c.Reason)
	}

	t.Run("only the seal's department registers", func(t *testing.T) {
		_, err := other.Seal.RegisterSealedDocument(ctx, &certsv1.RegisterSealedDocumentRequest{Name: "x.ofd", Content: signed})
		require.Equal(t, "SEAL_NOT_YOURS", server.Reason(err), "%v", err)
		_, err = iss.Seal.RegisterSealedDocument(ctx, &certsv1.RegisterSealedDocumentRequest{Name: "again.ofd", Content: signed})
		require.Equal(t, codes.AlreadyExists, status.Code(err))
	})
	t.Run("a tampered document is not registered", func(t *testing.T) {
		p, err := pkg.ReadFile("Doc_0/Pages/Page_0/Content.xml")
		require.NoError(t, err)
		bad, err := ofd.Rebuild(signed, map[string][]byte{"Doc_0/Pages/Page_0/Content.xml": append(append([]byte{}, p...), ' ')})
		require.NoError(t, err)
		_, err = iss.Seal.RegisterSealedDocument(ctx, &certsv1.RegisterSealedDocumentRequest{Name: "bad.ofd", Content: bad})
		require.Equal(t, "DOCUMENT_NOT_VALID", server.Reason(err), "%v", err)
		require.Contains(t, err.Error(), "INVALID")
	})
	t.Run("a revoked seal no longer seals", func(t *testing.T) {
		_, err := iss.Seal.RevokeSeal(ctx, &certsv1.RevokeSealRequest{Esid: seal2.GetSeal().GetEsid(), Reason: "停用"})
		require.NoError(t, err)
		_, _, err = iss.SealDocument(ctx, doc, seal2.GetSeal().GetDer(), sdk.SealOptions{Name: "late.ofd"})
		require.Equal(t, "DOCUMENT_NOT_VALID", server.Reason(err), "%v", err)
	})
	t.Run("a bundle written into the database by an insider anchors nothing", func(t *testing.T) {
		insider := sestest.NewCA(t, "insider CA", time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
		pemText := tf.caPEM + string(pki.EncodeCertsPEM(insider.Cert))
		sum := sm.Sum([]byte(pemText))
		db := th.h.Store.(interface{ DB() *sql.DB }).DB()
		_, err := db.ExecContext(ctx, `INSERT INTO trust_bundles (version, pem, sm3, loaded_by, loaded_at, note) VALUES ($1, $2, $3, $4, $5, $6)`,
			put.GetStore().GetVersion()+1, pemText, hex.EncodeToString(sum[:]), "11500000000000019A", time.Now().UnixMicro(), "")
		require.NoError(t, err)
		st, err := coord.TrustStore.RefreshCRLs(ctx, &certsv1.RefreshCRLsRequest{})
		require.NoError(t, err)
		require.Contains(t, st.GetStore().GetProblem(), "no audit record of its load")
		for _, a := range st.GetStore().GetAnchors() {
			require.NotContains(t, a.GetSubject(), "insider CA")
		}
		// Nothing it lists is trusted, not even the TSA's CA that a coordinator loaded:
		// the sealed invoice's timestamp chain is no longer confirmed.
		resp, err := other.Verify.Verify(ctx, &certsv1.VerifyRequest{Content: signed})
		require.NoError(t, err)
		require.Equal(t, "INTACT", resp.GetReport().GetVerdict())
		require.Equal(t, []string{"unknown"}, checkStatus(resp.GetReport(), "tsa.chain"))
		// A coordinator loads the bundle again through the API: audited, trusted.
		again, err := coord.TrustStore.PutTrustBundle(ctx, &certsv1.PutTrustBundleRequest{BundlePem: tf.caPEM, Note: "重新加载", ExpectedVersion: st.GetStore().GetVersion()})
		require.NoError(t, err)
		require.Empty(t, again.GetStore().GetProblem())
		resp, err = other.Verify.Verify(ctx, &certsv1.VerifyRequest{Content: signed})
		require.NoError(t, err)
		require.Equal(t, "VALID", resp.GetReport().GetVerdict(), resp.GetReport().GetSummary())
	})
	t.Run("trust bundle versions are kept", func(t *testing.T) {
		v, err := other.TrustStore.ListTrustBundleVersions(ctx, &certsv1.ListTrustBundleVersionsRequest{})
		require.NoError(t, err)
		require.Equal(t, "重新加载", v.GetVersions()[0].GetNote())
		_, err = coord.TrustStore.PutTrustBundle(ctx, &certsv1.PutTrustBundleRequest{BundlePem: tf.caPEM, ExpectedVersion: 0})
		require.Equal(t, "TRUST_VERSION_CONFLICT", server.Reason(err))
		_, err = other.TrustStore.PutTrustBundle(ctx, &certsv1.PutTrustBundleRequest{BundlePem: tf.caPEM, ExpectedVersion: v.GetVersions()[0].GetVersion()})
		require.Equal(t, codes.PermissionDenied, status.Code(err))
	})
}

// Without a TSA configured, Timestamp says so.
func TestTimestampUnavailable(t *testing.T) {
	th := startHub(t, nil)
	c, _ := th.client(t, demoIssuer)
	_, err := c.Seal.Timestamp(context.Background(), &certsv1.TimestampRequest{SignatureValue: []byte("v")})
	require.Equal(t, "TSA_UNAVAILABLE", server.Reason(err))
}

// An e-licence as a GB/T 36905 OFD file: laid out, sealed with the issuer's seal and
// registered; verification reads its metadata, checks the identifier and the registry
// status (a revoked licence's file is INVALID).
func TestLicenceOFD(t *testing.T) {
	th := startHub(t, nil)
	ctx := context.Background()
	iss, issID := th.client(t, demoIssuer)
	_, holderID := th.client(t, demoHolder)
	other, _ := th.client(t, demoOther)
	cat, err := iss.Catalogue(ctx)
	require.NoError(t, err)
	m := licence(t, cat, issID, holderID, "2026000077", 1)
	_, err = iss.IssueLicence(ctx, m, "")
	require.NoError(t, err)
	seal, err := iss.Seal.MakeSeal(ctx, &certsv1.MakeSealRequest{DepartmentCode: issID.Code, Name: issID.Name + "电子证照专用章"})
	require.NoError(t, err)
	file, reg, err := iss.LicenceOFD(ctx, m, seal.GetSeal().GetDer(), sdk.SealOptions{})
	require.NoError(t, err)
	require.Equal(t, "VALID", reg.GetReport().GetVerdict(), "%s", reg.GetReport().GetSummary())
	require.Equal(t, m.Identifier, reg.GetDocument().GetEcertIdentifier())
	for _, name := range []string{"ecert.format", "ecert.identifier", "ecert.metadata", "ecert.face", "ecert.issuer", "ecert.validity", "ecert.status"} {
		require.Equal(t, []string{"pass"}, checkStatus(reg.GetReport(), name), name)
	}

	_, err = iss.ECert.ChangeECertStatus(ctx, &certsv1.ChangeECertStatusRequest{Identifier: m.Identifier, Action: certsv1.StatusAction_STATUS_ACTION_REVOKE, Reason: "吊销"})
	require.NoError(t, err)
	resp, err := other.Verify.Verify(ctx, &certsv1.VerifyRequest{Name: "licence.ofd", Content: file})
	require.NoError(t, err)
	require.Equal(t, "INVALID", resp.GetReport().GetVerdict())
	require.Equal(t, []string{"fail"}, checkStatus(resp.GetReport(), "ecert.status"))

	// Offline the status is unknown: never VALID.
	rep, err := verify.Verify(ctx, file, verify.Options{})
	require.NoError(t, err)
	require.Equal(t, verify.Intact, rep.Verdict)
	require.Equal(t, verify.Unknown, rep.Find("ecert.status")[0].Status)
}

func zipFiles(t *testing.T, order []string, files map[string][]byte) []byte {
	t.Helper()
	b, err := ofd.Pack(order, files)
	require.NoError(t, err)
	return b
}
