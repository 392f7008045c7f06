package ses_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/ses/sestest"
	"github.com/gxhub/gxhub/certs/sm/smtest"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// openssl runs the system OpenSSL 3 (an independent SM2 implementation).
func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	return smtest.OpenSSL(t, args...)
}

func write(t *testing.T, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// OpenSSL parses our seal and signature as DER and verifies the maker signature over
// DER(SES_SealInfo) and the outer signature over DER(TBS_Sign) with the default SM2 ID.
func TestOpenSSLVerifiesOurSeal(t *testing.T) {
	dir := t.TempDir()
	f := sestest.NewFixture(t, false)
	data := []byte("signed document bytes")
	der, err := ses.SignV4(ses.SignRequest{Seal: f.Seal, Key: f.SignerKey, Cert: f.SignerCert, Data: data, PropertyInfo: "/Doc_0/Signs/Sign_0/Signature.xml", Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	sig, err := ses.ParseSignature(der)
	require.NoError(t, err)

	out := openssl(t, "asn1parse", "-inform", "DER", "-in", write(t, dir, "sig.der", der))
	require.Contains(t, string(out), "GENERALIZEDTIME")
	require.Contains(t, string(out), ":ES")

	for _, c := range []struct {
		name           string
		cert, msg, val []byte
	}{
		{"maker", sig.Seal.MakerCert, sig.Seal.Info.Raw, sig.Seal.SignedValue},
		{"signer", sig.Cert, sig.TBSRaw, sig.Value},
	} {
		t.Run(c.name, func(t *testing.T) {
			pub := filepath.Join(dir, c.name+".pub.pem")
			openssl(t, "x509", "-inform", "DER", "-in", write(t, dir, c.name+".crt", c.cert), "-pubkey", "-noout", "-out", pub)
			args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3",
				"-pkeyopt", "distid:1234567812345678", "-in", write(t, dir, c.name+".msg", c.msg), "-sigfile", write(t, dir, c.name+".sig", c.val)}
			require.Contains(t, string(openssl(t, args...)), "Signature Verified Successfully")
			// and OpenSSL rejects it over other bytes
			args[len(args)-3] = write(t, dir, c.name+".other", append([]byte{0}, c.msg...))
			bad, err := exec.Command("openssl", args...).CombinedOutput()
			require.Error(t, err, "%s", bad)
		})
	}
}

// A seal whose maker signature OpenSSL made (key and self-signed certificate from OpenSSL)
// verifies with our parser.
func TestWeVerifyOpenSSLMakerSignature(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "maker.key")
	crt := filepath.Join(dir, "maker.der")
	openssl(t, "genpkey", "-algorithm", "SM2", "-out", key)
	openssl(t, "req", "-x509", "-new", "-key", key, "-sm3", "-sigopt", "distid:1234567812345678",
		"-subj", "/C=CN/O=OpenSSL seal maker/CN=maker", "-days", "30", "-outform", "DER", "-out", crt)
	makerCert, err := os.ReadFile(crt)
	require.NoError(t, err)

	// Take a real SES_SealInfo from our own seal and have OpenSSL sign it.
	f := sestest.NewFixture(t, false)
	ours, err := ses.ParseSeal(f.Seal)
	require.NoError(t, err)
	sigVal := openssl(t, "pkeyutl", "-sign", "-inkey", key, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", write(t, dir, "info.der", ours.Info.Raw))
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddBytes(ours.Info.Raw)
		c.AddASN1OctetString(makerCert)
		c.AddASN1ObjectIdentifier(ses.OIDSM2WithSM3)
		c.AddASN1BitString(sigVal)
	})
	sealDER, err := b.Bytes()
	require.NoError(t, err)
	s, err := ses.ParseSeal(sealDER)
	require.NoError(t, err)
	mc, err := s.VerifyMaker()
	require.NoError(t, err)
	require.Contains(t, mc.Subject, "OpenSSL seal maker")
}
