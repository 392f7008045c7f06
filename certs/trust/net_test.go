package trust_test

import (
	"context"
	"crypto/rand"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/trust"
)

func TestFetchCRL(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, "省CA")
	other := newPKI(t, "其他")
	this := t0.Add(time.Hour)
	l := p.crl(t, []pki.RevokedCert{{Serial: big.NewInt(7), RevokedAt: t0, Reason: pki.ReasonSuperseded}}, this)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ca.crl":
			_, _ = w.Write(l.Raw)
		case "/ca.pem":
			_, _ = w.Write(pki.EncodeCRLPEM(l.Raw))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuers := []*smx509.Certificate{p.root.Cert, p.issuing.Cert}
	for _, loc := range []string{srv.URL + "/ca.crl", srv.URL + "/ca.pem"} {
		got, err := trust.FetchCRL(ctx, srv.Client(), loc, issuers, this.Add(time.Minute))
		require.NoError(t, err, loc)
		require.Len(t, got.RevokedCertificateEntries, 1)
	}
	file := filepath.Join(t.TempDir(), "ca.crl")
	require.NoError(t, os.WriteFile(file, l.Raw, 0o600))
	_, err := trust.FetchCRL(ctx, nil, file, issuers, this)
	require.NoError(t, err)

	_, err = trust.FetchCRL(ctx, srv.Client(), srv.URL+"/missing", issuers, this)
	require.ErrorContains(t, err, "404")
	_, err = trust.FetchCRL(ctx, srv.Client(), srv.URL+"/ca.crl", []*smx509.Certificate{other.issuing.Cert}, this)
	require.ErrorContains(t, err, "not in the trust store")
	_, err = trust.FetchCRL(ctx, srv.Client(), srv.URL+"/ca.crl", issuers, this.Add(30*24*time.Hour))
	require.ErrorContains(t, err, "stale")
	for _, bad := range []string{"", "ldap://x/cn=crl", "ca.crl", "http://"} {
		require.Error(t, trust.CheckLocation(bad), bad)
	}
}

// ocspResponse builds a basic OCSP response for the request's CertID (cid, its DER) with
// status (0 good, 1 revoked), signed by the CA's key.
func ocspResponse(t testing.TB, ca *pki.CA, cid []byte, status int, revokedAt time.Time, reason int) []byte {
	var data cryptobyte.Builder
	data.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(ca.Cert.RawSubject) })
		b.AddASN1GeneralizedTime(t0.Add(time.Hour))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(cid)
				if status == 0 {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
				} else {
					b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(revokedAt)
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddASN1Enum(int64(reason)) })
					})
				}
				b.AddASN1GeneralizedTime(t0.Add(time.Hour))
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(t0.Add(25 * time.Hour)) })
			})
		})
	})
	tbsDER, err := data.Bytes()
	require.NoError(t, err)
	sig, err := sm.Sign(ca.Key, tbsDER)
	require.NoError(t, err)
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(0)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(trust.OIDOCSPBasic)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(tbsDER)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(ses.OIDSM2WithSM3) })
						b.AddASN1BitString(sig)
					})
				})
			})
		})
	})
	der, err := out.Bytes()
	require.NoError(t, err)
	return der
}

// ocspResponder answers every request for the issuing CA with status, signed by the CA.
func ocspResponder(t *testing.T, ca *pki.CA, status int, revokedAt time.Time, reason int, calls *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		in := cryptobyte.String(body)
		var req, tbs, list, one, cid cryptobyte.String
		require.True(t, in.ReadASN1(&req, cbasn1.SEQUENCE) && req.ReadASN1(&tbs, cbasn1.SEQUENCE) && tbs.ReadASN1(&list, cbasn1.SEQUENCE) &&
			list.ReadASN1(&one, cbasn1.SEQUENCE) && one.ReadASN1Element(&cid, cbasn1.SEQUENCE))
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(ocspResponse(t, ca, cid, status, revokedAt, reason))
	})
}

// leafWithOCSP issues a signing certificate that names an OCSP responder.
func leafWithOCSP(t *testing.T, ca *pki.CA, url string) *ses.Certificate {
	k, err := sm.GenerateKey()
	require.NoError(t, err)
	tmpl := &smx509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: ca.Cert.Subject, NotBefore: t0, NotAfter: t0.Add(year),
		KeyUsage: smx509.KeyUsageDigitalSignature, OCSPServer: []string{url}}
	tmpl.Subject.CommonName = "OCSP leaf"
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &k.PublicKey, ca.Key)
	require.NoError(t, err)
	c, err := ses.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func TestOCSP(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, "OCSP CA")
	var calls atomic.Int32
	good := httptest.NewServer(ocspResponder(t, p.issuing, 0, time.Time{}, 0, &calls))
	defer good.Close()
	revoked := httptest.NewServer(ocspResponder(t, p.issuing, 1, t0.Add(time.Minute), pki.ReasonKeyCompromise, &calls))
	defer revoked.Close()
	forged := httptest.NewServer(ocspResponder(t, newPKI(t, "forger").issuing, 0, time.Time{}, 0, &calls))
	defer forged.Close()
	now := func() time.Time { return t0.Add(2 * time.Hour) }
	o := &trust.OCSP{Issuers: func() []*smx509.Certificate { return []*smx509.Certificate{p.root.Cert, p.issuing.Cert} }, Now: now}
	at := t0.Add(30 * time.Minute)

	leaf := leafWithOCSP(t, p.issuing, good.URL)
	st, err := o.CertificateStatus(ctx, leaf, at)
	require.NoError(t, err)
	require.False(t, st.Revoked)
	require.Contains(t, st.Source, "OCSP "+good.URL)
	before := calls.Load()
	_, err = o.CertificateStatus(ctx, leaf, at)
	require.NoError(t, err)
	require.Equal(t, before, calls.Load(), "the answer is cached until nextUpdate")

	st, err = o.CertificateStatus(ctx, leafWithOCSP(t, p.issuing, revoked.URL), at)
	require.NoError(t, err)
	require.True(t, st.Revoked)
	require.True(t, st.Compromise)

	_, err = o.CertificateStatus(ctx, leafWithOCSP(t, p.issuing, forged.URL), at)
	require.ErrorContains(t, err, "verifies with neither the issuer")

	_, err = o.CertificateStatus(ctx, p.leaf(t), at)
	require.ErrorContains(t, err, "names no http(s) OCSP responder")

	stale := &trust.OCSP{Issuers: o.Issuers, Now: func() time.Time { return t0.Add(30 * time.Hour) }}
	_, err = stale.CertificateStatus(ctx, leaf, at)
	require.ErrorContains(t, err, "stale")
}

func TestRequestTimestamp(t *testing.T) {
	ctx := context.Background()
	f := sestest.NewFixture(t, false)
	tsa := f.CA.NewTSA(t, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	genTime := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(tsa.Handler(func() time.Time { return genTime }))
	defer srv.Close()
	value := []byte("signature value")
	tok, ts, err := trust.RequestTimestamp(ctx, srv.Client(), srv.URL, value)
	require.NoError(t, err)
	require.Equal(t, genTime, ts.Info.GenTime)
	again, err := ses.VerifyTimeStamp(tok, value)
	require.NoError(t, err)
	require.Equal(t, "gxhub test TSA", again.TSA.Subject.CommonName)
	_, err = ses.VerifyTimeStamp(tok, []byte("other value"))
	require.Error(t, err)

	down := httptest.NewServer(http.NotFoundHandler())
	defer down.Close()
	_, _, err = trust.RequestTimestamp(ctx, down.Client(), down.URL, value)
	require.ErrorContains(t, err, "404")
}

// FuzzParseOCSPResponse: arbitrary bytes never panic the OCSP response parser; seeded with
// good and revoked answers signed by a test CA.
func FuzzParseOCSPResponse(f *testing.F) {
	p := newPKI(f, "fuzz OCSP")
	id, err := trust.NewCertID(p.issuing.Cert, big.NewInt(42), false)
	require.NoError(f, err)
	var cid cryptobyte.Builder
	cid.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(id.HashAlg) })
		b.AddASN1OctetString(id.IssuerNameHash)
		b.AddASN1OctetString(id.IssuerKeyHash)
		b.AddASN1BigInt(id.Serial)
	})
	cidDER, err := cid.Bytes()
	require.NoError(f, err)
	f.Add(ocspResponse(f, p.issuing, cidDER, 0, time.Time{}, 0))
	f.Add(ocspResponse(f, p.issuing, cidDER, 1, t0, pki.ReasonKeyCompromise))
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x06})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := trust.ParseOCSPResponse(b)
		if err != nil {
			return
		}
		_, _ = r.VerifySignature(&smx509.Certificate{})
	})
}
