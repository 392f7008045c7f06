// Package sestest makes small SM2 test PKIs (root CA and leaf certificates, with gmsm smx509)
// and seals for tests of the seal and verification packages. It is for tests only.
package sestest

import (
	"crypto/rand"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// CA is a test certificate authority.
type CA struct {
	Key  *sm.PrivateKey
	Cert *smx509.Certificate
}

var serial atomic.Int64

func nextSerial() *big.Int { return big.NewInt(1000 + serial.Add(1)) }

// NewCA makes a self-signed SM2 root CA valid from notBefore to notAfter.
func NewCA(tb testing.TB, cn string, notBefore, notAfter time.Time) *CA {
	tb.Helper()
	key, err := sm.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkixName(cn),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Key: key, Cert: c}
}

// Issue makes a leaf SM2 key and certificate (DER) signed by the CA.
func (ca *CA) Issue(tb testing.TB, cn string, notBefore, notAfter time.Time) (*sm.PrivateKey, []byte) {
	tb.Helper()
	key, err := sm.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return key, ca.IssueFor(tb, &key.PublicKey, cn, notBefore, notAfter)
}

// IssueFor certifies an existing SM2 public key.
func (ca *CA) IssueFor(tb testing.TB, pub any, cn string, notBefore, notAfter time.Time) []byte {
	tb.Helper()
	tmpl := &smx509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkixName(cn),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// Fixture is a complete set for making and signing with a seal.
type Fixture struct {
	CA         *CA
	MakerKey   *sm.PrivateKey
	MakerCert  []byte
	SignerKey  *sm.PrivateKey
	SignerCert []byte
	Seal       []byte
	Spec       ses.SealSpec
}

// NewFixture makes a CA, a maker and a signer valid 2020..2040, and a V4 seal valid
// 2021..2031 made on 2021-01-01 for the signer.
func NewFixture(tb testing.TB, useDigests bool) *Fixture {
	tb.Helper()
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &Fixture{CA: NewCA(tb, "gxhub test root CA", t0, t1)}
	f.MakerKey, f.MakerCert = f.CA.Issue(tb, "gxhub test seal maker", t0, t1)
	f.SignerKey, f.SignerCert = f.CA.Issue(tb, "某某市市场监督管理局", t0, t1)
	f.Spec = ses.SealSpec{
		VendorID: "GXHUB", ESID: "11330100MB0000001X0001", Type: 2, Name: "某某市市场监督管理局电子证照专用章",
		SignerCerts: [][]byte{f.SignerCert}, UseDigests: useDigests,
		Created:    time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidStart: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidEnd:   time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
		Picture:    ses.Picture{Type: "PNG", Data: []byte("\x89PNG\r\n\x1a\nnot-a-real-image"), Width: 40, Height: 40},
	}
	var err error
	if f.Seal, err = ses.MakeSealV4(f.Spec, f.MakerKey, f.MakerCert); err != nil {
		tb.Fatal(err)
	}
	return f
}
