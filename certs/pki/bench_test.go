package pki

import (
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/gxhub/gxhub/certs/sm"
)

func benchCA(b *testing.B) *CA {
	b.Helper()
	root, err := NewRootCA(pkix.Name{CommonName: "bench root"}, t0, 20*year)
	if err != nil {
		b.Fatal(err)
	}
	issuing, err := root.NewIssuingCA(pkix.Name{CommonName: "bench issuing"}, t0, 10*year)
	if err != nil {
		b.Fatal(err)
	}
	return issuing
}

// BenchmarkIssueDepartmentCert measures issuing one department certificate (SM2 signing and
// the self-check smx509 does after signing), key generation excluded.
func BenchmarkIssueDepartmentCert(b *testing.B) {
	ca := benchCA(b)
	key, err := sm.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	d := DepartmentSubject{Code: codeA, Name: "某局", Region: "浙江省"}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ca.IssueDepartmentCert(&key.PublicKey, d, t0, year); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyDepartmentCert measures a full chain check (two SM2 verifications).
func BenchmarkVerifyDepartmentCert(b *testing.B) {
	ca := benchCA(b)
	key, err := sm.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.IssueDepartmentCert(&key.PublicKey, DepartmentSubject{Code: codeA, Name: "某局"}, t0, year)
	if err != nil {
		b.Fatal(err)
	}
	roots, inter := []*smx509.Certificate{ca.Chain[0]}, []*smx509.Certificate{ca.Cert}
	at := t0.Add(time.Hour)
	b.ResetTimer()
	for b.Loop() {
		if _, err := VerifyDepartmentCert(cert, roots, inter, at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCRL10k measures creating, parsing and checking a CRL of 10,000 entries.
func BenchmarkCRL10k(b *testing.B) {
	ca := benchCA(b)
	revoked := make([]RevokedCert, 10_000)
	for i := range revoked {
		revoked[i] = RevokedCert{Serial: big.NewInt(int64(i + 1)), RevokedAt: t0.Add(time.Hour), Reason: ReasonSuperseded}
	}
	this := t0.Add(2 * time.Hour)
	b.ResetTimer()
	for b.Loop() {
		der, err := ca.CreateCRL(revoked, this, this.Add(24*time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		crl, err := ParseCRL(der)
		if err != nil {
			b.Fatal(err)
		}
		if err := CheckCRL(crl, ca.Cert, this); err != nil {
			b.Fatal(err)
		}
	}
}
