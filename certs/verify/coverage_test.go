package verify_test

import (
	"archive/zip"
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/verify"
)

const kinggrid = "ofd/999_kinggrid_chongqing_test.ofd"

// packageFiles returns every file of an OFD package.
func packageFiles(t *testing.T, src []byte) map[string][]byte {
	t.Helper()
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, n := range pkg.Names() {
		b, err := pkg.ReadFile(n)
		require.NoError(t, err)
		out[n] = b
	}
	return out
}

// unsignedCopy copies the document under Doc_0 (without its signatures) to Doc_1, with the
// invoice number on page 1 changed.
func unsignedCopy(t *testing.T, files map[string][]byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for n, b := range files {
		if strings.HasPrefix(n, "Doc_0/") && !strings.HasPrefix(n, "Doc_0/Signs/") {
			out["Doc_1/"+strings.TrimPrefix(n, "Doc_0/")] = b
		}
	}
	page := out["Doc_1/Pages/Page_0/Content.xml"]
	require.True(t, bytes.Contains(page, []byte(">12235358<")))
	out["Doc_1/Pages/Page_0/Content.xml"] = bytes.Replace(page, []byte(">12235358<"), []byte(">12235359<"), 1)
	return out
}

func replaceIn(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	require.True(t, bytes.Contains(b, []byte(old)), "%q not found", old)
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func verifyOK(t *testing.T, input []byte, opts verify.Options) *verify.Report {
	t.Helper()
	r, err := verify.Verify(context.Background(), input, opts)
	require.NoError(t, err)
	return r
}

// The false-VALID constructions of issue 15 on a real signed invoice whose OFD.xml no
// signature covers: each is INVALID, naming the rendered files nobody signed, while the
// real signature itself still checks out.
func TestCoverageFollowsWhatAReaderShows(t *testing.T) {
	src := read(t, kinggrid)
	files := packageFiles(t, src)
	ofdXML := files["OFD.xml"]
	const docRoot = "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
	build := func(t *testing.T, replace map[string][]byte) []byte {
		out, err := ofd.Rebuild(src, replace)
		require.NoError(t, err)
		return out
	}
	signatureHolds := func(t *testing.T, r *verify.Report) {
		t.Helper()
		one(t, r, "signature.outer", verify.Pass)
		one(t, r, "seal.maker_signature", verify.Pass)
		for _, c := range r.Checks {
			if strings.HasPrefix(c.Name, "reference[") {
				require.Equal(t, verify.Pass, c.Status, c.Name)
			}
		}
	}

	t.Run("the original is intact", func(t *testing.T) {
		r := verifyOK(t, src, verify.Options{})
		require.Equal(t, verify.Intact, r.Verdict, r.Summary)
		one(t, r, "coverage.entry_point", verify.Note)
	})

	t.Run("DocRoot points at an unsigned copy with another invoice number", func(t *testing.T) {
		replace := unsignedCopy(t, files)
		replace["OFD.xml"] = replaceIn(t, ofdXML, docRoot, "<ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot>")
		r := verifyOK(t, build(t, replace), verify.Options{})
		require.Equal(t, verify.Invalid, r.Verdict)
		signatureHolds(t, r)
		f := failedSet(r)
		for _, p := range []string{"Doc_1/Document.xml", "Doc_1/Pages/Page_0/Content.xml", "Doc_1/Tpls/Tpl_0/Content.xml", "Doc_1/Res/qrcode.png", "Doc_1/Attachs/original_invoice.xml"} {
			require.True(t, f["coverage["+p+"]"], "%s not reported: %v", p, f)
		}
		require.Contains(t, one(t, r, "coverage[Doc_1/Pages/Page_0/Content.xml]", verify.Fail).Reason, "page 1 (Doc_1/Pages/Page_0/Content.xml) is not covered by any signature")
		require.Contains(t, one(t, r, "references.coverage", verify.Fail).Reason, "document root of DocBody 0, template 9")
		// The signed original is still in the package, but nothing shows it.
		require.Contains(t, one(t, r, "coverage.unshown", verify.Note).Reason, "Doc_0/Pages/Page_0/Content.xml")
	})

	t.Run("a second, unsigned DocBody", func(t *testing.T) {
		replace := unsignedCopy(t, files)
		replace["OFD.xml"] = replaceIn(t, ofdXML, "</ofd:OFD>", "<ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")
		r := verifyOK(t, build(t, replace), verify.Options{})
		require.Equal(t, verify.Invalid, r.Verdict)
		signatureHolds(t, r)
		sig := r.Find("signatures")
		require.Len(t, sig, 2)
		require.Equal(t, "DocBody 1", sig[0].Scope)
		require.Equal(t, verify.Fail, sig[0].Status)
		require.Contains(t, sig[0].Reason, "DocBody 1 (Doc_1/Document.xml) carries no signature")
		require.True(t, failedSet(r)["coverage[Doc_1/Pages/Page_0/Content.xml]"])
	})

	t.Run("a second DocBody showing the signed document without its signatures", func(t *testing.T) {
		replace := map[string][]byte{"OFD.xml": replaceIn(t, ofdXML, "</ofd:OFD>", "<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")}
		r := verifyOK(t, build(t, replace), verify.Options{})
		require.Equal(t, []string{"signatures"}, failedNames(r))
	})

	t.Run("two DocRoot elements in one DocBody", func(t *testing.T) {
		replace := unsignedCopy(t, files)
		replace["OFD.xml"] = replaceIn(t, ofdXML, docRoot, docRoot+"<ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot>")
		r := verifyOK(t, build(t, replace), verify.Options{})
		require.Equal(t, verify.Invalid, r.Verdict)
		require.True(t, failedSet(r)["coverage[Doc_1/Document.xml]"])
		require.Contains(t, one(t, r, "coverage.structure", verify.Note).Reason, "2 DocRoot elements")
	})

	t.Run("a file nothing shows is only a note", func(t *testing.T) {
		r := verifyOK(t, build(t, map[string][]byte{"Doc_0/Pages/Page_9/Content.xml": []byte("<x/>")}), verify.Options{})
		require.Equal(t, verify.Intact, r.Verdict, r.Summary)
		require.Contains(t, one(t, r, "coverage.unreferenced", verify.Note).Reason, "Doc_0/Pages/Page_9/Content.xml")
	})
}

// stripSignatures returns the package without its signatures (an unsigned document).
func stripSignatures(t *testing.T, src []byte) []byte {
	t.Helper()
	files := packageFiles(t, src)
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	order := []string{}
	out := map[string][]byte{}
	for _, n := range pkg.Names() {
		if strings.HasPrefix(n, "Doc_0/Signs/") {
			continue
		}
		order = append(order, n)
		out[n] = files[n]
	}
	out["OFD.xml"] = regexp.MustCompile(`<ofd:Signatures>[^<]*</ofd:Signatures>`).ReplaceAll(out["OFD.xml"], nil)
	return zipOf(t, order, out)
}

// A signer that leaves the page templates out of its references (as some vendors sign
// only page content): after the template text is changed, the document is INVALID naming
// the template, although the signature and every reference it has check out.
func TestCoverageTemplatesNobodySigned(t *testing.T) {
	f := sestest.NewFixture(t, false)
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	unsigned := stripSignatures(t, read(t, kinggrid))
	signed, err := ofd.AddSignature(unsigned, signer(f, f.SignerKey, f.SignerCert, at), ofd.SignOptions{Provider: "test", Time: at})
	require.NoError(t, err)
	opts := verify.Options{Roots: []*smx509.Certificate{f.CA.Cert}, Revocation: allGood{}}
	require.Equal(t, verify.Valid, verifyOK(t, signed, opts).Verdict)

	// Re-sign without the template references.
	files := packageFiles(t, signed)
	const sigPath = "Doc_0/Signs/Sign_0/Signature.xml"
	xml := regexp.MustCompile(`<ofd:Reference FileRef="/Doc_0/Tpls/[^"]*"><ofd:CheckValue>[^<]*</ofd:CheckValue></ofd:Reference>`).ReplaceAll(files[sigPath], nil)
	require.Less(t, len(xml), len(files[sigPath]))
	value, err := ses.SignV4(ses.SignRequest{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Data: xml, PropertyInfo: "/" + sigPath, Time: at})
	require.NoError(t, err)
	partial, err := ofd.Rebuild(signed, map[string][]byte{sigPath: xml, "Doc_0/Signs/Sign_0/SignedValue.dat": value})
	require.NoError(t, err)

	tpl := files["Doc_0/Tpls/Tpl_0/Content.xml"]
	i := bytes.Index(tpl, []byte("</ofd:TextCode>"))
	require.Positive(t, i)
	changed := append(append(bytes.Clone(tpl[:i]), "伪造"...), tpl[i:]...)
	tampered, err := ofd.Rebuild(partial, map[string][]byte{"Doc_0/Tpls/Tpl_0/Content.xml": changed})
	require.NoError(t, err)
	for _, in := range [][]byte{partial, tampered} {
		r := verifyOK(t, in, opts)
		require.Equal(t, verify.Invalid, r.Verdict)
		one(t, r, "signature.outer", verify.Pass)
		one(t, r, "signature.data_hash", verify.Pass)
		require.Contains(t, one(t, r, "coverage[Doc_0/Tpls/Tpl_0/Content.xml]", verify.Fail).Reason, "template 9")
		require.Len(t, r.Failed(), 6, "5 templates and the summary: %v", failedNames(r))
	}
}

// A real signed invoice whose Document.xml names its template in another case
// ("TPLS/Tpl_0"): a second template file under that name would be shown by case-sensitive
// readers instead of the signed one. Names that differ only in case are refused.
func TestCaseVariantTemplateRefused(t *testing.T) {
	src := read(t, "ofd/v4signed_gomain_chongqing_tax.ofd")
	out, err := ofd.Rebuild(src, map[string][]byte{"Doc_0/TPLS/Tpl_0/Content.xml": []byte("<ofd:Page/>")})
	require.NoError(t, err)
	r := verifyOK(t, out, verify.Options{})
	require.Equal(t, []string{"container"}, failedNames(r))
	require.Contains(t, r.Failed()[0].Reason, "differ only in case")
	// The original: the template is found whatever the case, and it is signed.
	r = verifyOK(t, src, verify.Options{})
	require.Equal(t, verify.Intact, r.Verdict, r.Summary)
}

type allGood struct{}

func (allGood) CertificateStatus(context.Context, *ses.Certificate, time.Time) (verify.RevocationStatus, error) {
	return verify.RevocationStatus{Source: "test CRL"}, nil
}

func (allGood) SealStatus(context.Context, *ses.Seal, time.Time) (verify.RevocationStatus, error) {
	return verify.RevocationStatus{Source: "test seal registry"}, nil
}

func zipOf(t *testing.T, order []string, files map[string][]byte) []byte {
	t.Helper()
	b, err := ofd.Pack(order, files)
	require.NoError(t, err)
	return b
}

// A zip bomb gets a report that says so (INVALID, container), decided from the zip's
// central directory before anything is inflated.
func TestZipBombReport(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("OFD.xml")
	require.NoError(t, err)
	_, _ = w.Write([]byte("<ofd:OFD/>"))
	w, err = zw.Create("Doc_0/Res/big.png")
	require.NoError(t, err)
	zero := make([]byte, 1<<20)
	for range 64 {
		_, err = w.Write(zero)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	r := verifyOK(t, buf.Bytes(), verify.Options{})
	require.Equal(t, verify.Invalid, r.Verdict)
	require.Equal(t, []string{"container"}, failedNames(r))
	require.Contains(t, r.Failed()[0].Reason, "zip bomb is refused before anything is decompressed")
}
