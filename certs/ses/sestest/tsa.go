package sestest

import (
	"crypto/rand"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"crypto/x509/pkix"

	"github.com/emmansun/gmsm/smx509"
	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/trust"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TSA is a test RFC 3161 time-stamping authority with an SM2 key.
type TSA struct {
	Key  *sm.PrivateKey
	Cert *smx509.Certificate
}

// NewTSA issues a timeStamping certificate from the CA.
func (ca *CA) NewTSA(tb testing.TB, notBefore, notAfter time.Time) *TSA {
	tb.Helper()
	key, err := sm.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: nextSerial(), Subject: pkixName("gxhub test TSA"),
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
		ExtKeyUsage: []smx509.ExtKeyUsage{smx509.ExtKeyUsageTimeStamping},
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &TSA{Key: key, Cert: c}
}

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSM2Sign       = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
)

// Stamp returns an RFC 3161 TimeStampToken (CMS SignedData, SM2/SM3) whose messageImprint
// is SM3(covered) and genTime is at.
func (t *TSA) Stamp(covered []byte, at time.Time) ([]byte, error) {
	imprint := sm.Sum(covered)
	return t.stamp(imprint[:], nil, at)
}

func (t *TSA) stamp(imprint []byte, nonce *big.Int, at time.Time) ([]byte, error) {
	tst, err := asn1.Marshal(ses.TSTInfo{
		Version: 1, Policy: asn1.ObjectIdentifier{1, 2, 3, 4, 1},
		MessageImprint: ses.MessageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: ses.OIDSM3}, HashedMessage: imprint},
		SerialNumber:   big.NewInt(at.UnixNano()), GenTime: at.UTC().Truncate(time.Second), Nonce: nonce,
	})
	if err != nil {
		return nil, err
	}
	digest := sm.Sum(tst)
	var ab cryptobyte.Builder
	ab.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidContentType)
		b.AddASN1(cbasn1.SET, func(s *cryptobyte.Builder) { s.AddASN1ObjectIdentifier(ses.OIDTSTInfo) })
	})
	ab.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidMessageDigest)
		b.AddASN1(cbasn1.SET, func(s *cryptobyte.Builder) { s.AddASN1OctetString(digest[:]) })
	})
	attrs, err := ab.Bytes()
	if err != nil {
		return nil, err
	}
	var sb cryptobyte.Builder
	sb.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
	toSign, err := sb.Bytes()
	if err != nil {
		return nil, err
	}
	sig, err := sm.Sign(t.Key, toSign)
	if err != nil {
		return nil, err
	}
	algSM3 := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(a *cryptobyte.Builder) { a.AddASN1ObjectIdentifier(ses.OIDSM3) })
	}
	var cb cryptobyte.Builder
	cb.AddASN1(cbasn1.SEQUENCE, func(ci *cryptobyte.Builder) {
		ci.AddASN1ObjectIdentifier(oidSignedData)
		ci.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(e *cryptobyte.Builder) {
			e.AddASN1(cbasn1.SEQUENCE, func(sd *cryptobyte.Builder) {
				sd.AddASN1Int64(3)
				sd.AddASN1(cbasn1.SET, algSM3)
				sd.AddASN1(cbasn1.SEQUENCE, func(eci *cryptobyte.Builder) {
					eci.AddASN1ObjectIdentifier(ses.OIDTSTInfo)
					eci.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(x *cryptobyte.Builder) { x.AddASN1OctetString(tst) })
				})
				sd.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(c *cryptobyte.Builder) { c.AddBytes(t.Cert.Raw) })
				sd.AddASN1(cbasn1.SET, func(sis *cryptobyte.Builder) {
					sis.AddASN1(cbasn1.SEQUENCE, func(si *cryptobyte.Builder) {
						si.AddASN1Int64(1)
						si.AddASN1(cbasn1.SEQUENCE, func(ias *cryptobyte.Builder) {
							ias.AddBytes(t.Cert.RawIssuer)
							ias.AddASN1BigInt(t.Cert.SerialNumber)
						})
						algSM3(si)
						si.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(a *cryptobyte.Builder) { a.AddBytes(attrs) })
						si.AddASN1(cbasn1.SEQUENCE, func(a *cryptobyte.Builder) { a.AddASN1ObjectIdentifier(oidSM2Sign) })
						si.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return cb.Bytes()
}

// Handler answers RFC 3161 requests (application/timestamp-query) with a token at the
// time now() returns, so that the TSA can run behind httptest.NewServer.
func (t *TSA) Handler(now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		var req trust.TimeStampReq
		if err == nil {
			_, err = asn1.Unmarshal(body, &req)
		}
		type status = trust.PKIStatusInfo
		w.Header().Set("Content-Type", "application/timestamp-reply")
		if err != nil || !req.MessageImprint.HashAlgorithm.Algorithm.Equal(ses.OIDSM3) {
			out, _ := asn1.Marshal(struct{ Status status }{status{Status: 2, StatusString: []string{"bad request"}}})
			_, _ = w.Write(out)
			return
		}
		tok, err := t.stamp(req.MessageImprint.HashedMessage, req.Nonce, now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out, _ := asn1.Marshal(struct {
			Status status
			Token  asn1.RawValue
		}{status{Status: 0}, asn1.RawValue{FullBytes: tok}})
		_, _ = w.Write(out)
	})
}
