package verify_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/cms"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/sm/smtest"
	"github.com/gxhub/gxhub/certs/verify"
)

const gomain = "ofd/gbt35275_gomain_yunnan_pathclip.ofd"

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// gomainSigner returns the YNCA signer certificate embedded in the real GB/T 35275 file.
func gomainSigner(t *testing.T) (*smx509.Certificate, []byte, []byte) {
	pkg, err := ofd.Open(read(t, gomain), ofd.Limits{})
	require.NoError(t, err)
	sv, err := pkg.ReadFile("Doc_0/Signs/Sign_0/SignedValue.dat")
	require.NoError(t, err)
	xml, err := pkg.ReadFile("Doc_0/Signs/Sign_0/Signature.xml")
	require.NoError(t, err)
	sd, err := cms.Parse(sv)
	require.NoError(t, err)
	c, err := sd.SignerCertificate(&sd.Signers[0])
	require.NoError(t, err)
	require.NotNil(t, c.X509)
	return c.X509, sv, xml
}

// The real gomain document signed with two GB/T 35275 SignedData signatures (Type="Sign"):
// INTACT without trust roots, VALID with its signer's chain configured as trusted. The YNCA
// CA certificate is not public, so the trust configured is the signer certificate itself
// (a pinned anchor, which is not checked for revocation).
func TestGBT35275RealDocument(t *testing.T) {
	ctx := context.Background()
	input := read(t, gomain)
	signer, sv, xml := gomainSigner(t)

	r, err := verify.Verify(ctx, input, verify.Options{Name: gomain})
	require.NoError(t, err)
	require.Equal(t, verify.Intact, r.Verdict, r.Summary)
	require.Len(t, r.Signed, 2)
	for _, s := range r.Signed {
		require.Equal(t, "Sign", s.Type)
		require.Contains(t, s.Signer, "一部手机办事通设备证书")
		require.Equal(t, "gomain_eseal (gomain)", s.Provider)
		require.Equal(t, time.Date(2022, 11, 16, 11, 20, 58, 0, time.UTC), s.SigningTime)
	}
	require.Contains(t, r.Summary, "signer.chain")

	r, err = verify.Verify(ctx, input, verify.Options{Roots: []*smx509.Certificate{signer}})
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)
	for _, name := range []string{"signer.chain", "signer.revocation", "signature.outer", "signature.data_hash", "signer.validity_at_signing"} {
		cs := r.Find(name)
		require.Len(t, cs, 2, name)
		for _, c := range cs {
			require.Equal(t, verify.Pass, c.Status, "%s: %s", name, c.Reason)
		}
	}

	// A trust store that does not hold the YNCA chain: INTACT, the issuer named.
	root, _, _, _, _ := tongsuo(t)
	r, err = verify.Verify(ctx, input, verify.Options{Roots: []*smx509.Certificate{root}})
	require.NoError(t, err)
	require.Equal(t, verify.Intact, r.Verdict, r.Summary)
	require.Contains(t, r.Find("signer.chain")[0].Reason, "YNCA_SM2")

	// OpenSSL agrees: the SM2 signature over the DER SET of the signed attributes as
	// received verifies with the embedded certificate's key.
	sd, err := cms.Parse(sv)
	require.NoError(t, err)
	si := sd.Signers[0]
	smtest.VerifySM2(t, signer.Raw, si.SignedMessage(xml), si.Signature)

	// Signature.xml changed by one byte: messageDigest no longer matches.
	changed := bytes.Replace(xml, []byte("20221116112058Z"), []byte("20221116112059Z"), 1)
	out, err := ofd.Rebuild(input, map[string][]byte{"Doc_0/Signs/Sign_0/Signature.xml": changed})
	require.NoError(t, err)
	r, err = verify.Verify(ctx, out, verify.Options{Roots: []*smx509.Certificate{signer}})
	require.NoError(t, err)
	require.Equal(t, verify.Invalid, r.Verdict)
	// Sign_1 covers Sign_0's Signature.xml too.
	require.Equal(t, []string{"reference[Doc_0/Signs/Sign_0/Signature.xml]", "signature.data_hash"}, failedNames(r))
}

// signedData makes a GB/T 35275 SignedData with gmsm's pkcs7 (an independent producer).
func signedData(t *testing.T, f *sestest.Fixture, content []byte, detach bool) []byte {
	cert, err := smx509.ParseCertificate(f.SignerCert)
	require.NoError(t, err)
	sd, err := pkcs7.NewSMSignedData(content)
	require.NoError(t, err)
	require.NoError(t, sd.AddSigner(cert, f.SignerKey, pkcs7.SignerInfoConfig{}))
	if detach {
		sd.Detach()
	}
	der, err := sd.Finish()
	require.NoError(t, err)
	return der
}

type notRevoked struct{}

func (notRevoked) CertificateStatus(context.Context, *ses.Certificate, time.Time) (verify.RevocationStatus, error) {
	return verify.RevocationStatus{Source: "test"}, nil
}

func TestStandaloneSignedData(t *testing.T) {
	ctx := context.Background()
	f := sestest.NewFixture(t, false)
	content := []byte("营业执照 91330100MA0000000X")
	opts := verify.Options{Roots: []*smx509.Certificate{f.CA.Cert}, Revocation: notRevoked{}}

	attached := signedData(t, f, content, false)
	k, err := verify.Detect(attached)
	require.NoError(t, err)
	require.Equal(t, verify.KindSignedData, k)
	r, err := verify.Verify(ctx, attached, opts)
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)
	require.Contains(t, one(t, r, "signature.parse", verify.Pass).Reason, "GB/T 35275")

	detached := signedData(t, f, content, true)
	withData := opts
	withData.Data = content
	r, err = verify.Verify(ctx, detached, withData)
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)

	withData.Data = []byte("other content")
	r, err = verify.Verify(ctx, detached, withData)
	require.NoError(t, err)
	require.Equal(t, []string{"signature.data_hash"}, failedNames(r))

	// Without the content, only what the signature covers is checked: not VALID.
	r, err = verify.Verify(ctx, detached, opts)
	require.NoError(t, err)
	require.Equal(t, verify.Intact, r.Verdict, r.Summary)
	one(t, r, "signature.data_hash", verify.Unknown)

	// The CLI needs --data for detached content and exits by verdict.
	dir := t.TempDir()
	p7s := writeTemp(t, dir, "doc.p7s", detached)
	var out, errb bytes.Buffer
	require.Equal(t, verify.ExitUsage, verify.RunCLI([]string{p7s}, &out, &errb))
	require.Contains(t, errb.String(), "--data")
	out.Reset()
	require.Equal(t, verify.ExitIntact, verify.RunCLI([]string{p7s, "--data", writeTemp(t, dir, "doc.txt", content)}, &out, &errb), out.String())
}

// Signatures the verifier cannot check are UNSUPPORTED, never INVALID: a bare SM2 value
// (no certificate names the signer), an unknown signature Type, SignedData with another
// algorithm.
func TestUnsupportedSignatures(t *testing.T) {
	ctx := context.Background()
	src := read(t, gomain)
	pkg, err := ofd.Open(src, ofd.Limits{})
	require.NoError(t, err)
	sv1, _ := pkg.ReadFile("Doc_0/Signs/Sign_1/SignedValue.dat")
	bare := func(sv []byte) []byte {
		sd, err := cms.Parse(sv)
		require.NoError(t, err)
		return sd.Signers[0].Signature
	}
	sigs, _ := pkg.ReadFile("Doc_0/Signs/Signatures.xml")
	tests := []struct {
		name    string
		replace map[string][]byte
		check   string
	}{
		// Sign_1 alone covers the annotation list; its value without a certificate names no
		// signer.
		{"bare SM2 signature value", map[string][]byte{"Doc_0/Signs/Sign_1/SignedValue.dat": bare(sv1)}, "signature.parse"},
		{"unknown signature type", map[string][]byte{"Doc_0/Signs/Signatures.xml": bytes.ReplaceAll(sigs, []byte(`Type="Sign"`), []byte(`Type="Stamp"`))}, "signature.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ofd.Rebuild(src, tc.replace)
			require.NoError(t, err)
			r, err := verify.Verify(ctx, out, verify.Options{})
			require.NoError(t, err)
			require.Equal(t, verify.Unsupported, r.Verdict, r.Summary)
			require.Empty(t, r.Failed())
			n := 0
			for _, c := range r.Find(tc.check) {
				if c.Status == verify.NotSupported {
					n++
				}
			}
			require.Positive(t, n, "%s reported unsupported", tc.check)
			require.Contains(t, one(t, r, "references.coverage", verify.NotSupported).Reason, "Doc_0/Annots/Annotations.xml")
			require.Equal(t, verify.ExitUnsupported, r.Verdict.ExitCode())
		})
	}
}

// A GB/T 35275 SignedData with an RFC 3161 timestamp token in its unsigned attributes: the
// token's genTime is the signing time, and a token over another value fails.
func TestSignedDataTimestamp(t *testing.T) {
	ctx := context.Background()
	f := sestest.NewFixture(t, false)
	tsa := f.CA.NewTSA(t, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	cert, err := smx509.ParseCertificate(f.SignerCert)
	require.NoError(t, err)
	gen := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	stamped := func(over []byte) []byte {
		sd, err := pkcs7.NewSMSignedData([]byte("content"))
		require.NoError(t, err)
		require.NoError(t, sd.AddSigner(cert, f.SignerKey, pkcs7.SignerInfoConfig{}))
		si := &sd.GetSignedData().SignerInfos[0]
		if over == nil {
			over = si.EncryptedDigest
		}
		tok, err := tsa.Stamp(over, gen)
		require.NoError(t, err)
		require.NoError(t, si.SetUnauthenticatedAttributes([]pkcs7.Attribute{{Type: cms.OIDTimeStampToken, Value: asn1.RawValue{FullBytes: tok}}}))
		der, err := sd.Finish()
		require.NoError(t, err)
		return der
	}
	opts := verify.Options{Roots: []*smx509.Certificate{f.CA.Cert}, Revocation: notRevoked{}}
	r, err := verify.Verify(ctx, stamped(nil), opts)
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)
	require.Equal(t, gen, r.Signed[0].SigningTime)
	require.Contains(t, r.Signed[0].SigningTimeSource, "timestamp genTime")
	one(t, r, "tsa.chain", verify.Pass)

	r, err = verify.Verify(ctx, stamped([]byte("another signature value")), opts)
	require.NoError(t, err)
	require.Equal(t, []string{"timestamp"}, failedNames(r))
}
