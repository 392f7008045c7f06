package pki

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
)

// FuzzParseCSR: certificate requests a department sends to have its key certified.
func FuzzParseCSR(f *testing.F) {
	key, err := sm.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	csr, err := CreateCSR(key, DepartmentSubject{Code: codeA, Name: "杭州市西湖区数据资源管理局", Region: "浙江省杭州市"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(csr)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, subj, err := ParseCSR(b)
		if err != nil {
			return
		}
		if pub == nil {
			t.Fatalf("no key and no error (subject %+v)", subj)
		}
	})
}

// FuzzParseCertsPEM: certificate chains (trust bundles, identities, --ca files).
func FuzzParseCertsPEM(f *testing.F) {
	fx := newFixture(f)
	f.Add(EncodeCertsPEM(fx.dept, fx.issuing.Cert, fx.root.Cert))
	files, _ := filepath.Glob("../testdata/external/certs/*.pem")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := ParseCertsPEM(b)
		if err != nil {
			return
		}
		for _, c := range certs {
			_, _ = DepartmentCode(c)
		}
	})
}

// FuzzParseCRL: revocation lists fetched from issuing CAs.
func FuzzParseCRL(f *testing.F) {
	ca := newFixture(f).issuing
	at := t0.Add(24 * time.Hour)
	der, err := ca.CreateCRL([]RevokedCert{{Serial: ca.Cert.SerialNumber, RevokedAt: t0, Reason: ReasonKeyCompromise}}, at, at.Add(7*24*time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(EncodeCRLPEM(der))
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		crl, err := ParseCRL(b)
		if err != nil {
			return
		}
		_ = crl.CheckSignatureFrom(ca.Cert)
	})
}
