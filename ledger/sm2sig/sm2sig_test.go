package sm2sig_test

import (
	"context"
	"crypto/rand"
	"encoding/asn1"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
)

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	key, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := sm2sig.NewSigner(key)
	require.NoError(t, err)
	v, err := sm2sig.NewVerifier(s.Public())
	require.NoError(t, err)
	require.Equal(t, s.KeyID(), v.KeyID())
	require.Len(t, s.KeyID(), 32)

	msg := []byte("gxhub/ledger/tree-head/v1\n")
	sig, err := s.Sign(ctx, msg)
	require.NoError(t, err)
	require.NoError(t, v.Verify(msg, sig))

	// Raw r‖s form is accepted too.
	var parsed struct{ R, S *big.Int }
	_, err = asn1.Unmarshal(sig, &parsed)
	require.NoError(t, err)
	raw := make([]byte, 64)
	parsed.R.FillBytes(raw[:32])
	parsed.S.FillBytes(raw[32:])
	require.NoError(t, v.Verify(msg, raw))

	other, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ov, err := sm2sig.NewVerifier(&other.PublicKey)
	require.NoError(t, err)
	require.NotEqual(t, v.KeyID(), ov.KeyID())

	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	tests := map[string]struct {
		v   *sm2sig.Verifier
		msg []byte
		sig []byte
	}{
		"fail/altered message":   {v, []byte("gxhub/ledger/tree-head/v2\n"), sig},
		"fail/altered signature": {v, msg, bad},
		"fail/other key":         {ov, msg, sig},
		"fail/garbage":           {v, msg, []byte{1, 2, 3}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, tc.v.Verify(tc.msg, tc.sig), ledger.ErrVerification)
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Sign(cctx, msg)
	require.ErrorIs(t, err, context.Canceled)
}

// TestOpenSSLVerifiesAndSigns checks interoperability with OpenSSL 3, an
// independent SM2 implementation, in both directions (default user ID).
func TestOpenSSLVerifiesAndSigns(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	key, err := sm2.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := sm2sig.NewSigner(key)
	require.NoError(t, err)
	spki, err := smx509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pkcs8, err := smx509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	msg := write("msg", []byte("gxhub/ledger/anchor-block/v1\nheight 1\n"))
	pub := write("pub.der", spki)
	priv := write("priv.der", pkcs8)
	sig, err := s.Sign(context.Background(), []byte("gxhub/ledger/anchor-block/v1\nheight 1\n"))
	require.NoError(t, err)
	sigPath := write("sig", sig)
	out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-keyform", "DER",
		"-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", msg, "-sigfile", sigPath).CombinedOutput()
	require.NoError(t, err, "openssl: %s", out)

	osig := filepath.Join(dir, "osig")
	out, err = exec.Command("openssl", "pkeyutl", "-sign", "-inkey", priv, "-keyform", "DER",
		"-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", msg, "-out", osig).CombinedOutput()
	require.NoError(t, err, "openssl: %s", out)
	b, err := os.ReadFile(osig)
	require.NoError(t, err)
	v, err := sm2sig.ParseVerifier(spki)
	require.NoError(t, err)
	require.NoError(t, v.Verify([]byte("gxhub/ledger/anchor-block/v1\nheight 1\n"), b))
}
