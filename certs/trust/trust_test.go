package trust_test

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/trust"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const year = 365 * 24 * time.Hour

type pkiFixture struct {
	root, issuing *pki.CA
}

func newPKI(t testing.TB, name string) *pkiFixture {
	root, err := pki.NewRootCA(pkix.Name{CommonName: name + " root", Organization: []string{name}, Country: []string{"CN"}}, t0, 10*year)
	require.NoError(t, err)
	iss, err := root.NewIssuingCA(pkix.Name{CommonName: name + " issuing", Organization: []string{name}, Country: []string{"CN"}}, t0, 5*year)
	require.NoError(t, err)
	return &pkiFixture{root: root, issuing: iss}
}

func (p *pkiFixture) leaf(t testing.TB) *ses.Certificate {
	k, err := sm.GenerateKey()
	require.NoError(t, err)
	c, err := p.issuing.IssueDepartmentCert(&k.PublicKey, pki.DepartmentSubject{Code: "11330100MB0000001R", Name: "某局"}, t0, 2*year)
	require.NoError(t, err)
	sc, err := ses.ParseCertificate(c.Raw)
	require.NoError(t, err)
	return sc
}

func (p *pkiFixture) crl(t testing.TB, revoked []pki.RevokedCert, this time.Time) *smx509.RevocationList {
	der, err := p.issuing.CreateCRL(revoked, this, this.Add(7*24*time.Hour))
	require.NoError(t, err)
	l, err := pki.ParseCRL(der)
	require.NoError(t, err)
	return l
}

func TestParseAndLoad(t *testing.T) {
	p := newPKI(t, "省电子印章")
	l := p.crl(t, nil, t0.Add(time.Hour))
	pemBundle := append(pki.EncodeCertsPEM(p.root.Cert, p.issuing.Cert), pki.EncodeCRLPEM(l.Raw)...)
	b, err := trust.Parse(pemBundle)
	require.NoError(t, err)
	require.Len(t, b.Anchors, 2)
	require.Len(t, b.CRLs, 1)
	again, err := trust.Parse(b.PEM())
	require.NoError(t, err)
	require.Equal(t, b.PEM(), again.PEM())

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "root.cer"), p.root.Cert.Raw, 0o600)) // DER
	require.NoError(t, os.WriteFile(filepath.Join(dir, "issuing.pem"), pki.EncodeCertsPEM(p.issuing.Cert), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "issuing.crl"), l.Raw, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.txt"), []byte("ignored"), 0o600))
	d, err := trust.Load(dir)
	require.NoError(t, err)
	require.Len(t, d.Anchors, 2)
	require.Len(t, d.CRLs, 1)
	d.Add(b)
	require.Len(t, d.Anchors, 2, "no duplicates")

	for _, bad := range [][]byte{[]byte("hello"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")} {
		_, err := trust.Parse(bad)
		require.Error(t, err)
	}
	empty := t.TempDir()
	_, err = trust.Load(empty)
	require.ErrorContains(t, err, "holds no certificate or CRL file")
}

func TestCRLs(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, "省电子认证")
	other := newPKI(t, "另一家")
	good, early, compromised := p.leaf(t), p.leaf(t), p.leaf(t)
	signedAt := t0.Add(30 * 24 * time.Hour)
	this := t0.Add(60 * 24 * time.Hour)
	l := p.crl(t, []pki.RevokedCert{
		{Serial: early.SerialNumber, RevokedAt: signedAt.Add(-time.Hour), Reason: pki.ReasonSuperseded},
		{Serial: compromised.SerialNumber, RevokedAt: signedAt.Add(time.Hour), Reason: pki.ReasonKeyCompromise},
	}, this)
	now := func() time.Time { return this.Add(time.Hour) }
	c := &trust.CRLs{Issuers: []*smx509.Certificate{p.root.Cert, p.issuing.Cert}, Lists: []*smx509.RevocationList{l}, Now: now}

	st, err := c.CertificateStatus(ctx, good, signedAt)
	require.NoError(t, err)
	require.False(t, st.Revoked)
	require.Contains(t, st.Source, "CRL of")

	st, err = c.CertificateStatus(ctx, early, signedAt)
	require.NoError(t, err)
	require.True(t, st.Revoked)
	require.Equal(t, "superseded", st.Reason)
	require.False(t, st.Compromise)

	st, err = c.CertificateStatus(ctx, compromised, signedAt)
	require.NoError(t, err)
	require.True(t, st.Revoked)
	require.True(t, st.Compromise)

	// The CRL predates the time asked about: it cannot show a revocation in between.
	_, err = c.CertificateStatus(ctx, good, this.Add(time.Minute))
	require.ErrorContains(t, err, "predates the time checked")

	// A stale CRL, a CRL whose issuer is not trusted, no CRL for the issuer.
	stale := &trust.CRLs{Issuers: c.Issuers, Lists: c.Lists, Now: func() time.Time { return this.Add(30 * 24 * time.Hour) }}
	_, err = stale.CertificateStatus(ctx, good, signedAt)
	require.ErrorContains(t, err, "stale")
	untrusted := &trust.CRLs{Issuers: []*smx509.Certificate{other.issuing.Cert}, Lists: c.Lists, Now: now}
	_, err = untrusted.CertificateStatus(ctx, good, signedAt)
	require.ErrorContains(t, err, "not in the trust store")
	_, err = c.CertificateStatus(ctx, other.leaf(t), signedAt)
	require.ErrorContains(t, err, "no CRL from the issuer")

	// Sources: the first source that can tell answers.
	down := failing{errors.New("responder down")}
	st, err = trust.Sources{down, c}.CertificateStatus(ctx, early, signedAt)
	require.NoError(t, err)
	require.True(t, st.Revoked)
	_, err = trust.Sources{down}.CertificateStatus(ctx, early, signedAt)
	require.ErrorContains(t, err, "responder down")
	_, err = trust.Sources{c}.SealStatus(ctx, &ses.Seal{}, signedAt)
	require.ErrorContains(t, err, "no seal status source configured")
}

type failing struct{ err error }

func (f failing) CertificateStatus(context.Context, *ses.Certificate, time.Time) (trust.Status, error) {
	return trust.Status{}, f.err
}

// FuzzParse: any bytes give a bundle or an error, never a panic; a bundle re-encodes to
// the same bundle.
func FuzzParse(f *testing.F) {
	p := newPKI(f, "fuzz")
	f.Add(pki.EncodeCertsPEM(p.root.Cert, p.issuing.Cert))
	f.Add(p.root.Cert.Raw)
	f.Add(pki.EncodeCRLPEM(p.crl(f, nil, t0).Raw))
	f.Fuzz(func(t *testing.T, b []byte) {
		bundle, err := trust.Parse(b)
		if err != nil {
			return
		}
		again, err := trust.Parse(bundle.PEM())
		if err != nil || len(again.Anchors) != len(bundle.Anchors) || len(again.CRLs) != len(bundle.CRLs) {
			t.Fatalf("re-encoded bundle differs: %v", err)
		}
	})
}
