package verify_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// minimalOFD is a small unsigned OFD package.
func minimalOFD(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := []struct{ name, body string }{
		{"OFD.xml", `<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" DocType="OFD" Version="1.1"><ofd:DocBody><ofd:DocInfo><ofd:DocID>gxhub-test</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`},
		{"Doc_0/Document.xml", `<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>`},
		{"Doc_0/Pages/Page_0/Content.xml", `<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer ID="2"><ofd:TextObject ID="3" Boundary="10 10 100 10" Font="4" Size="5"><ofd:TextCode X="0" Y="5">营业执照 91330100MA0000000X</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>`},
	}
	for _, f := range files {
		w, err := zw.Create(f.name)
		require.NoError(t, err)
		_, err = w.Write([]byte(f.body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func signer(f *sestest.Fixture, key *sm2.PrivateKey, cert []byte, at time.Time) ofd.Signer {
	return func(x []byte, prop string) ([]byte, error) {
		return ses.SignV4(ses.SignRequest{Seal: f.Seal, Key: key, Cert: cert, Data: x, PropertyInfo: prop, Time: at})
	}
}

func TestRoundTripOFD(t *testing.T) {
	ctx := context.Background()
	f := sestest.NewFixture(t, false)
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	signed, err := ofd.AddSignature(minimalOFD(t), signer(f, f.SignerKey, f.SignerCert, at), ofd.SignOptions{Provider: "gxhub", Time: at})
	require.NoError(t, err)

	r, err := verify.Verify(ctx, signed, verify.Options{Roots: []*smx509.Certificate{f.CA.Cert}, Revocation: allGood{}})
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)
	for _, name := range []string{"signature.outer", "seal.maker_signature", "signer.in_seal", "signature.data_hash",
		"signer.validity_at_signing", "seal.validity_at_signing", "signer.chain", "maker.chain",
		"maker.validity_at_seal_creation", "references.coverage", "signature.property_info",
		"reference[OFD.xml]", "reference[Doc_0/Pages/Page_0/Content.xml]"} {
		one(t, r, name, verify.Pass)
	}
	require.Equal(t, at, r.Signed[0].SigningTime)
	require.Equal(t, f.Spec.ESID, r.Signed[0].SealID)
	require.Equal(t, f.Spec.Name, r.Signed[0].SealName)
	require.Contains(t, r.Signed[0].Signer, "某某市市场监督管理局")

	// A second signature on top keeps the first one valid.
	twice, err := ofd.AddSignature(signed, signer(f, f.SignerKey, f.SignerCert, at.Add(time.Hour)), ofd.SignOptions{Provider: "gxhub"})
	require.NoError(t, err)
	r, err = verify.Verify(ctx, twice, verify.Options{Roots: []*smx509.Certificate{f.CA.Cert}, Revocation: allGood{}})
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)
	require.Len(t, r.Signed, 2)

	// Without a revocation source the same document is INTACT, saying what is unknown.
	r, err = verify.Verify(ctx, twice, verify.Options{Roots: []*smx509.Certificate{f.CA.Cert}})
	require.NoError(t, err)
	require.Equal(t, verify.Intact, r.Verdict)
	require.Contains(t, r.Summary, "revocation")

	// An unsigned OFD is not valid.
	r, err = verify.Verify(ctx, minimalOFD(t), verify.Options{})
	require.NoError(t, err)
	require.Equal(t, verify.Invalid, r.Verdict)
	require.Contains(t, failedNames(r), "signatures")
	require.Contains(t, failedNames(r), "coverage[Doc_0/Pages/Page_0/Content.xml]")
}

// resign rebuilds an SES_Signature with another certificate in place of the signer's.
func withCert(t *testing.T, der, cert []byte) []byte {
	s, err := ses.ParseSignature(der)
	require.NoError(t, err)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddBytes(s.TBSRaw)
		c.AddASN1OctetString(cert)
		c.AddASN1ObjectIdentifier(ses.OIDSM2WithSM3)
		c.AddASN1BitString(s.Value)
	})
	out, err := b.Bytes()
	require.NoError(t, err)
	return out
}

// withMakerCert rebuilds a V4 seal claiming another maker certificate.
func withMakerCert(t *testing.T, der, cert []byte) []byte {
	s, err := ses.ParseSeal(der)
	require.NoError(t, err)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddBytes(s.Info.Raw)
		c.AddASN1OctetString(cert)
		c.AddASN1ObjectIdentifier(ses.OIDSM2WithSM3)
		c.AddASN1BitString(s.SignedValue)
	})
	out, err := b.Bytes()
	require.NoError(t, err)
	return out
}

func TestRoundTripSignatureVariants(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	data := []byte("<ofd:Signature>signed bytes</ofd:Signature>")
	okAt := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	f := sestest.NewFixture(t, false)
	// A second signer certificate, valid only in 2020, listed in a second seal.
	shortKey, shortCert := f.CA.Issue(t, "short-lived signer", t0, t0.AddDate(1, 0, 0))
	otherKey, otherCert := f.CA.Issue(t, "other signer", t0, t0.AddDate(20, 0, 0))
	_ = otherKey
	spec := f.Spec
	spec.SignerCerts = [][]byte{f.SignerCert, shortCert, otherCert}
	spec.ValidStart = t0
	seal2, err := ses.MakeSealV4(spec, f.MakerKey, f.MakerCert)
	require.NoError(t, err)
	fd := sestest.NewFixture(t, true) // certDigestList seal

	sign := func(t *testing.T, seal []byte, key *sm2.PrivateKey, cert []byte, at time.Time) []byte {
		der, err := ses.SignV4(ses.SignRequest{Seal: seal, Key: key, Cert: cert, Data: data, PropertyInfo: "/Doc_0/Signs/Sign_0/Signature.xml", Time: at})
		require.NoError(t, err)
		return der
	}
	roots := []*smx509.Certificate{f.CA.Cert}
	tests := []struct {
		name   string
		der    func(t *testing.T) []byte
		data   []byte
		roots  []*smx509.Certificate
		failed []string
	}{
		{"valid", func(t *testing.T) []byte { return sign(t, f.Seal, f.SignerKey, f.SignerCert, okAt) }, data, roots, nil},
		{"valid with certDigestList", func(t *testing.T) []byte { return sign(t, fd.Seal, fd.SignerKey, fd.SignerCert, okAt) }, data, []*smx509.Certificate{fd.CA.Cert}, nil},
		{"signer expired at signing", func(t *testing.T) []byte { return sign(t, seal2, shortKey, shortCert, okAt) }, data, roots,
			[]string{"signer.chain", "signer.validity_at_signing"}},
		{"seal expired at signing", func(t *testing.T) []byte {
			return sign(t, f.Seal, f.SignerKey, f.SignerCert, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC))
		}, data, roots, []string{"seal.validity_at_signing"}},
		{"signed before the seal existed", func(t *testing.T) []byte {
			return sign(t, f.Seal, f.SignerKey, f.SignerCert, time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC))
		}, data, roots, []string{"seal.validity_at_signing"}},
		{"wrong key (certificate swapped)", func(t *testing.T) []byte {
			return withCert(t, sign(t, seal2, f.SignerKey, f.SignerCert, okAt), otherCert)
		}, data, roots, []string{"signature.outer"}},
		{"signer not in seal", func(t *testing.T) []byte {
			return withCert(t, sign(t, f.Seal, f.SignerKey, f.SignerCert, okAt), otherCert)
		}, data, roots, []string{"signature.outer", "signer.in_seal"}},
		{"wrong maker key", func(t *testing.T) []byte {
			forged := withMakerCert(t, f.Seal, otherCert)
			der, err := ses.SignV4(ses.SignRequest{Seal: forged, Key: f.SignerKey, Cert: f.SignerCert, Data: data, Time: okAt})
			require.NoError(t, err)
			return der
		}, data, roots, []string{"seal.maker_signature"}},
		{"other data", func(t *testing.T) []byte { return sign(t, f.Seal, f.SignerKey, f.SignerCert, okAt) }, []byte("other"), roots,
			[]string{"signature.data_hash"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.Verify(ctx, tc.der(t), verify.Options{Data: tc.data, Roots: tc.roots})
			require.NoError(t, err)
			require.Equal(t, verify.KindSignature, r.Kind)
			require.Equal(t, tc.failed, failedNames(r))
			if tc.failed == nil {
				one(t, r, "signer.chain", verify.Pass)
				one(t, r, "maker.chain", verify.Pass)
			}
		})
	}
}

func tongsuo(t *testing.T) (root, sub *smx509.Certificate, leaf, expired []byte, key *sm2.PrivateKey) {
	rest := read(t, "certs/tongsuo_sm2_chain-ca.crt")
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := smx509.ParseCertificate(blk.Bytes)
		require.NoError(t, err)
		if bytes.Equal(c.RawSubject, c.RawIssuer) {
			root = c
		} else {
			sub = c
		}
	}
	require.NotNil(t, root)
	require.NotNil(t, sub)
	der := func(f string) []byte {
		blk, _ := pem.Decode(read(t, f))
		require.NotNil(t, blk)
		return blk.Bytes
	}
	k, err := sm.ParsePrivateKeyPEM(read(t, "certs/tongsuo_sm2_client_sign.key"), nil)
	require.NoError(t, err)
	return root, sub, der("certs/tongsuo_sm2_client_sign.crt"), der("certs/tongsuo_sm2_client_sign_expire.crt"), k
}

// Chains with real third-party certificates: the Tongsuo SM2 test PKI verifies, its expired
// leaf does not; the ofdrw ROOT lacks keyCertSign and must be rejected by a strict check.
func TestChains(t *testing.T) {
	ctx := context.Background()
	root, sub, leaf, expired, key := tongsuo(t)
	f := sestest.NewFixture(t, false)
	spec := f.Spec
	spec.SignerCerts = [][]byte{leaf, expired}
	seal, err := ses.MakeSealV4(spec, f.MakerKey, f.MakerCert)
	require.NoError(t, err)
	data := []byte("doc")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sign := func(cert []byte) []byte {
		der, err := ses.SignV4(ses.SignRequest{Seal: seal, Key: key, Cert: cert, Data: data, Time: at})
		require.NoError(t, err)
		return der
	}
	all := verify.Options{Data: data, Roots: []*smx509.Certificate{root, f.CA.Cert}, Intermediates: []*smx509.Certificate{sub}}

	all.Revocation = allGood{}
	r, err := verify.Verify(ctx, sign(leaf), all)
	require.NoError(t, err)
	require.Equal(t, verify.Valid, r.Verdict, r.Summary)
	require.Contains(t, one(t, r, "signer.chain", verify.Pass).Reason, root.Subject.CommonName)

	r, err = verify.Verify(ctx, sign(expired), all)
	require.NoError(t, err)
	require.Equal(t, []string{"signer.chain", "signer.validity_at_signing"}, failedNames(r))

	// Without the intermediate the issuer is unknown (not a failure unless required).
	noSub := all
	noSub.Intermediates = nil
	r, err = verify.Verify(ctx, sign(leaf), noSub)
	require.NoError(t, err)
	require.Contains(t, one(t, r, "signer.chain", verify.Unknown).Reason, "issuer not in trust store")
	require.Equal(t, verify.Intact, r.Verdict)
	noSub.RequireChain = true
	r, err = verify.Verify(ctx, sign(leaf), noSub)
	require.NoError(t, err)
	require.Equal(t, []string{"signer.chain"}, failedNames(r))

	// ofdrw ROOT signs the ofdrw test certificates but has no keyCertSign.
	blk, _ := pem.Decode(read(t, "certs/ofdrw_ROOT_cert.derived.pem"))
	ofdrwRoot, err := smx509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	r, err = verify.Verify(ctx, read(t, "ses/ofdrw_SignedValueV4.dat"), verify.Options{
		Data: read(t, "ses/ofdrw_Signature.xml"), Roots: []*smx509.Certificate{ofdrwRoot}})
	require.NoError(t, err)
	c := one(t, r, "signer.chain", verify.Fail)
	require.Contains(t, c.Reason, "cannot sign")

	// A lenient (smx509-refused) certificate without its CA stays unknown.
	r, err = verify.Verify(ctx, read(t, "ses/zsbk_ynca_badIA5_SignedValue.dat"), verify.Options{
		Data: read(t, "ses/zsbk_ynca_badIA5_Signature.xml"), Roots: []*smx509.Certificate{root}})
	require.NoError(t, err)
	require.Contains(t, one(t, r, "signer.chain", verify.Unknown).Reason, "parsed leniently")
	require.Equal(t, verify.Intact, r.Verdict)
}

type revocations struct {
	revoked map[string]time.Time // subject -> revocation time
	sealRev map[string]time.Time // esID -> revocation time
	err     error
}

func (r revocations) CertificateStatus(_ context.Context, c *ses.Certificate, _ time.Time) (verify.RevocationStatus, error) {
	if r.err != nil {
		return verify.RevocationStatus{}, r.err
	}
	at, ok := r.revoked[c.Subject]
	return verify.RevocationStatus{Revoked: ok, RevokedAt: at, Reason: "keyCompromise", Source: "test CRL"}, nil
}

func (r revocations) SealStatus(_ context.Context, s *ses.Seal, _ time.Time) (verify.RevocationStatus, error) {
	if r.err != nil {
		return verify.RevocationStatus{}, r.err
	}
	at, ok := r.sealRev[s.Info.ESID]
	return verify.RevocationStatus{Revoked: ok, RevokedAt: at, Source: "seal registry"}, nil
}

func TestRevocation(t *testing.T) {
	ctx := context.Background()
	f := sestest.NewFixture(t, false)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	data := []byte("doc")
	der, err := ses.SignV4(ses.SignRequest{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Data: data, Time: at})
	require.NoError(t, err)
	sc, err := ses.ParseCertificate(f.SignerCert)
	require.NoError(t, err)
	tests := []struct {
		name   string
		rc     revocations
		status map[string]verify.Status
	}{
		{"none revoked", revocations{}, map[string]verify.Status{"signer.revocation": verify.Pass, "maker.revocation": verify.Pass, "seal.revocation": verify.Pass}},
		{"signer revoked before signing", revocations{revoked: map[string]time.Time{sc.Subject: at.AddDate(0, -1, 0)}},
			map[string]verify.Status{"signer.revocation": verify.Fail}},
		{"signer revoked after signing", revocations{revoked: map[string]time.Time{sc.Subject: at.AddDate(0, 1, 0)}},
			map[string]verify.Status{"signer.revocation": verify.Unknown}},
		{"seal revoked", revocations{sealRev: map[string]time.Time{f.Spec.ESID: at.AddDate(-1, 0, 0)}},
			map[string]verify.Status{"seal.revocation": verify.Fail}},
		{"source down", revocations{err: errors.New("CRL fetch failed")},
			map[string]verify.Status{"signer.revocation": verify.Unknown, "seal.revocation": verify.Unknown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.Verify(ctx, der, verify.Options{Data: data, Revocation: tc.rc, Roots: []*smx509.Certificate{f.CA.Cert}})
			require.NoError(t, err)
			want := verify.Valid
			for name, st := range tc.status {
				one(t, r, name, st)
				switch {
				case st == verify.Fail:
					want = verify.Invalid
				case st == verify.Unknown && want == verify.Valid:
					want = verify.Intact
				}
			}
			require.Equal(t, want, r.Verdict, r.Summary)
		})
	}
}

func TestTimeStampedSignatures(t *testing.T) {
	ctx := context.Background()
	f := sestest.NewFixture(t, false)
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tsa := f.CA.NewTSA(t, t0, t0.AddDate(20, 0, 0))
	data := []byte("doc")
	claimed := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sign := func(t *testing.T, genTime time.Time, over []byte) []byte {
		der, err := ses.SignV4(ses.SignRequest{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Data: data, Time: claimed,
			TimeStamper: func(sig []byte) ([]byte, error) {
				if over != nil {
					sig = over
				}
				return tsa.Stamp(sig, genTime)
			}})
		require.NoError(t, err)
		return der
	}
	sc, err := ses.ParseCertificate(f.SignerCert)
	require.NoError(t, err)
	roots := []*smx509.Certificate{f.CA.Cert}

	t.Run("valid timestamp gives the signing time", func(t *testing.T) {
		gen := claimed.Add(90 * time.Second)
		// The signer certificate is revoked after the timestamp: the signature stays valid.
		rc := revocations{revoked: map[string]time.Time{sc.Subject: gen.Add(time.Hour)}}
		r, err := verify.Verify(ctx, sign(t, gen, nil), verify.Options{Data: data, Roots: roots, Revocation: rc})
		require.NoError(t, err)
		require.Equal(t, verify.Valid, r.Verdict, r.Summary)
		require.Contains(t, one(t, r, "timestamp", verify.Pass).Reason, "gxhub test TSA")
		one(t, r, "tsa.chain", verify.Pass)
		one(t, r, "signer.revocation", verify.Pass)
		require.Equal(t, gen, r.Signed[0].SigningTime)
		require.Contains(t, r.Signed[0].SigningTimeSource, "timestamp")
	})
	t.Run("timestamp after the seal expired", func(t *testing.T) {
		// timeInfo claims 2025 (inside the seal's validity) but the TSA says 2032.
		r, err := verify.Verify(ctx, sign(t, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), nil), verify.Options{Data: data, Roots: roots})
		require.NoError(t, err)
		require.Equal(t, []string{"seal.validity_at_signing"}, failedNames(r))
	})
	t.Run("timestamp of another signature", func(t *testing.T) {
		r, err := verify.Verify(ctx, sign(t, claimed, []byte("other signature value")), verify.Options{Data: data, Roots: roots})
		require.NoError(t, err)
		require.Equal(t, []string{"timestamp"}, failedNames(r))
		require.Contains(t, r.Find("timestamp")[0].Reason, "messageImprint")
		require.Equal(t, claimed, r.Signed[0].SigningTime)
	})
}
