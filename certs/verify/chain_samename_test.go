package verify_test

import (
	"context"
	"crypto/rand"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/verify"
)

// A trusted CA that only shares its name with the signer's issuer (two hubs' CAs are both
// "gxhub SM2 Department CA"; a federation agreement that made the other one trusted has
// ended) leaves the chain unknown — INTACT, not INVALID. The same certificate with a byte
// of its signature changed, under the real issuer, is still a broken chain.
func TestChainIssuerOfTheSameNameIsNotTheIssuer(t *testing.T) {
	ctx := context.Background()
	root, sub, leaf, _, key := tongsuo(t)
	f := sestest.NewFixture(t, false)
	spec := f.Spec
	// The signer certificate with a byte of its signature changed (the last bytes of the DER).
	tampered := append([]byte(nil), leaf...)
	tampered[len(tampered)-3] ^= 0x01
	_, err := smx509.ParseCertificate(tampered)
	require.NoError(t, err, "the altered certificate still parses")
	spec.SignerCerts = [][]byte{leaf, tampered}
	seal, err := ses.MakeSealV4(spec, f.MakerKey, f.MakerCert)
	require.NoError(t, err)
	data := []byte("doc")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sign := func(cert []byte) []byte {
		der, err := ses.SignV4(ses.SignRequest{Seal: seal, Key: key, Cert: cert, Data: data, Time: at})
		require.NoError(t, err)
		return der
	}

	// Another CA of exactly the issuer's name (its raw subject), with its own key.
	k, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	tmpl := &smx509.Certificate{SerialNumber: big.NewInt(7), RawSubject: sub.RawSubject, NotBefore: sub.NotBefore, NotAfter: sub.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign, SubjectKeyId: []byte("another-ca-of-the-same-name")}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	namesake, err := smx509.ParseCertificate(der)
	require.NoError(t, err)
	require.Equal(t, sub.RawSubject, namesake.RawSubject)
	leafCert, err := smx509.ParseCertificate(leaf)
	require.NoError(t, err)
	require.NotEmpty(t, leafCert.AuthorityKeyId, "the test needs a leaf that names its issuer's key")

	opts := verify.Options{Data: data, Roots: []*smx509.Certificate{root, namesake}, Revocation: allGood{}}
	r, err := verify.Verify(ctx, sign(leaf), opts)
	require.NoError(t, err)
	require.Contains(t, one(t, r, "signer.chain", verify.Unknown).Reason, "issuer not in trust store")
	require.Equal(t, verify.Intact, r.Verdict, r.Summary)

	// Under the real issuer, a certificate whose signature was altered is broken.
	opts.Intermediates = []*smx509.Certificate{sub}
	r, err = verify.Verify(ctx, sign(tampered), opts)
	require.NoError(t, err)
	require.Contains(t, failedNames(r), "signer.chain", r.Summary)
	require.Equal(t, verify.Invalid, r.Verdict)
}
