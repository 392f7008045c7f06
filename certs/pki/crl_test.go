package pki

import (
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
)

func TestCRL(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	issue := func(t *testing.T) *smx509.Certificate {
		t.Helper()
		k, err := sm.GenerateKey()
		require.NoError(t, err)
		c, err := f.issuing.IssueDepartmentCert(&k.PublicKey, DepartmentSubject{Code: codeA, Name: "某局"}, t0, 2*year)
		require.NoError(t, err)
		return c
	}
	good, early, late, compromised, held := issue(t), issue(t), issue(t), issue(t), issue(t)
	revokedAt := t0.Add(100 * 24 * time.Hour)
	thisUpdate := t0.Add(200 * 24 * time.Hour)
	nextUpdate := thisUpdate.Add(7 * 24 * time.Hour)
	der, err := f.issuing.CreateCRL([]RevokedCert{
		{Serial: early.SerialNumber, RevokedAt: revokedAt, Reason: ReasonSuperseded},
		{Serial: late.SerialNumber, RevokedAt: revokedAt, Reason: ReasonCessationOfOperation},
		{Serial: compromised.SerialNumber, RevokedAt: revokedAt, Reason: ReasonKeyCompromise},
		{Serial: held.SerialNumber, RevokedAt: revokedAt, Reason: ReasonCertificateHold},
	}, thisUpdate, nextUpdate)
	require.NoError(t, err)

	crl, err := ParseCRL(der)
	require.NoError(t, err)
	crlPEM, err := ParseCRL(EncodeCRLPEM(der))
	require.NoError(t, err)
	require.Equal(t, crl.Raw, crlPEM.Raw)
	require.Len(t, crl.RevokedCertificateEntries, 4)
	require.Equal(t, big.NewInt(thisUpdate.UnixMilli()), crl.Number)
	require.Equal(t, f.issuing.Cert.SubjectKeyId, crl.AuthorityKeyId)
	r, ok := FindRevoked(crl, compromised.SerialNumber)
	require.True(t, ok)
	require.Equal(t, ReasonKeyCompromise, r.Reason)
	require.True(t, r.RevokedAt.Equal(revokedAt))
	_, ok = FindRevoked(crl, good.SerialNumber)
	require.False(t, ok)

	otherCRLDER, err := other.issuing.CreateCRL(nil, thisUpdate, nextUpdate)
	require.NoError(t, err)
	otherCRL, err := ParseCRL(otherCRLDER)
	require.NoError(t, err)
	tamperedDER := append([]byte(nil), der...)
	tamperedDER[len(tamperedDER)-5] ^= 0x01 // inside the signature value
	tampered, err := ParseCRL(tamperedDER)
	require.NoError(t, err)

	before := revokedAt.Add(-time.Hour) // signed before the revocations
	after := revokedAt.Add(time.Hour)   // signed after them
	now := thisUpdate.Add(time.Hour)
	cases := []struct {
		name     string
		cert     *smx509.Certificate
		crl      *smx509.RevocationList
		signedAt time.Time
		now      time.Time
		revoked  bool
		errSub   string // non-revocation failure
	}{
		{"not listed", good, crl, after, now, false, ""},
		{"superseded, signed after", early, crl, after, now, true, ""},
		{"superseded, signed before", early, crl, before, now, false, ""},
		{"cessation, signed at the instant", late, crl, revokedAt, now, true, ""},
		{"key compromise, signed before", compromised, crl, before, now, true, ""},
		{"hold, signed after", held, crl, after, now, true, ""},
		{"stale CRL", good, crl, after, nextUpdate.Add(time.Second), false, "stale"},
		{"CRL predates signing", good, crl, thisUpdate.Add(time.Minute), now, false, "predates the signing time"},
		{"CRL of another CA with the same name", good, otherCRL, after, now, false, "authority key identifier"},
		{"tampered CRL", good, tampered, after, now, false, "does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRevocation(tc.cert, tc.crl, f.issuing.Cert, tc.signedAt, tc.now)
			switch {
			case tc.errSub != "":
				require.ErrorContains(t, err, tc.errSub)
				require.NotErrorIs(t, err, ErrRevoked)
			case tc.revoked:
				require.ErrorIs(t, err, ErrRevoked)
				require.ErrorContains(t, err, "revoked at")
			default:
				require.NoError(t, err)
			}
		})
	}

	t.Run("CRL of another issuer", func(t *testing.T) {
		rootCRL, err := f.root.CreateCRL(nil, thisUpdate, nextUpdate)
		require.NoError(t, err)
		rl, err := ParseCRL(rootCRL)
		require.NoError(t, err)
		require.ErrorContains(t, CheckCRL(rl, f.issuing.Cert, now), "was issued by")
		require.NoError(t, CheckCRL(rl, f.root.Cert, now))
		require.ErrorContains(t, CheckRevocation(good, rl, f.root.Cert, after, now), "was issued by")
	})
	t.Run("create rejects", func(t *testing.T) {
		_, err := f.issuing.CreateCRL(nil, thisUpdate, thisUpdate)
		require.ErrorContains(t, err, "must be after")
		_, err = f.issuing.CreateCRL([]RevokedCert{{Serial: big.NewInt(5), RevokedAt: t0, Reason: 7}}, thisUpdate, nextUpdate)
		require.ErrorContains(t, err, "reason 7")
		_, err = f.issuing.CreateCRL([]RevokedCert{{RevokedAt: t0}}, thisUpdate, nextUpdate)
		require.ErrorContains(t, err, "serial")
		_, err = f.issuing.CreateCRL([]RevokedCert{{Serial: big.NewInt(5)}}, thisUpdate, nextUpdate)
		require.ErrorContains(t, err, "no revocation time")
	})
	t.Run("parse rejects", func(t *testing.T) {
		_, err := ParseCRL([]byte("garbage"))
		require.ErrorContains(t, err, "parse CRL")
		_, err = ParseCRL(EncodeCertsPEM(good))
		require.ErrorContains(t, err, "expected \"X509 CRL\"")
	})
}
