package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
)

// TestFilesEncryptEveryKindAtRest: with a password, an SM2 key, an ECDSA key and a secret
// are written so that the file alone reveals nothing, read back only with that password, and
// OpenSSL reads the keys with it (the format is PKCS#8 PBES2, not a private invention).
func TestFilesEncryptEveryKindAtRest(t *testing.T) {
	dir := t.TempDir()
	f := Files{Password: []byte("correct horse battery")}
	sk, err := f.SM2(filepath.Join(dir, "sm2.pem"))
	require.NoError(t, err)
	ek, err := f.ECDSA(filepath.Join(dir, "tls-key.pem"))
	require.NoError(t, err)
	secret, err := f.Secret(filepath.Join(dir, "subject-key"), 32)
	require.NoError(t, err)

	for _, name := range []string{"sm2.pem", "tls-key.pem", "subject-key"} {
		p := filepath.Join(dir, name)
		ok, err := Protected(p)
		require.NoError(t, err)
		require.True(t, ok, "%s is not encrypted", name)
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "subject-key"))
	require.NoError(t, err)
	require.False(t, bytes.Contains(raw, secret), "the secret's bytes appear in its file")

	// Same password: the same keys come back.
	sk2, err := f.LoadSM2(filepath.Join(dir, "sm2.pem"))
	require.NoError(t, err)
	require.True(t, sk.Equal(sk2))
	ek2, err := f.LoadECDSA(filepath.Join(dir, "tls-key.pem"))
	require.NoError(t, err)
	require.True(t, ek.Equal(ek2))
	s2, err := f.Secret(filepath.Join(dir, "subject-key"), 32)
	require.NoError(t, err)
	require.Equal(t, secret, s2)

	// Wrong or no password: refused, nothing overwritten.
	for _, bad := range []Files{{Password: []byte("wrong password!")}, {}} {
		_, err := bad.LoadSM2(filepath.Join(dir, "sm2.pem"))
		require.Error(t, err)
		_, err = bad.LoadECDSA(filepath.Join(dir, "tls-key.pem"))
		require.Error(t, err)
		_, err = bad.Secret(filepath.Join(dir, "subject-key"), 32)
		require.Error(t, err)
	}
	after, err := os.ReadFile(filepath.Join(dir, "subject-key"))
	require.NoError(t, err)
	require.Equal(t, raw, after)

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, f.Password, 0o600))
	for _, name := range []string{"sm2.pem", "tls-key.pem"} {
		out, err := exec.Command("openssl", "pkey", "-in", filepath.Join(dir, name), "-passin", "file:"+pw, "-noout", "-text").CombinedOutput()
		require.NoError(t, err, "openssl cannot read %s: %s", name, out)
		require.Contains(t, string(out), "Private-Key")
		out, err = exec.Command("openssl", "pkey", "-in", filepath.Join(dir, name), "-passin", "pass:wrong-password", "-noout").CombinedOutput()
		require.Error(t, err, "openssl read %s with a wrong password: %s", name, out)
	}
}

// TestFilesEncryptPlaintextInPlace: a data directory written without a password (plain
// PKCS#8, SEC 1 and raw secrets) is encrypted file by file the first time the hub loads it
// with a password, keeping the same keys.
func TestFilesEncryptPlaintextInPlace(t *testing.T) {
	dir := t.TempDir()
	plain := Files{}
	sk, err := plain.SM2(filepath.Join(dir, "sm2.pem"))
	require.NoError(t, err)
	ek, err := plain.ECDSA(filepath.Join(dir, "tls-key.pem"))
	require.NoError(t, err)
	secret, err := plain.Secret(filepath.Join(dir, "subject-key"), 32)
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "subject-key"))
	require.NoError(t, err)
	require.Equal(t, secret, raw, "without a password a secret stays raw, as before")

	var upgraded []string
	f := Files{Password: []byte("correct horse battery"), Upgraded: func(p string) { upgraded = append(upgraded, filepath.Base(p)) }}
	sk2, err := f.LoadSM2(filepath.Join(dir, "sm2.pem"))
	require.NoError(t, err)
	require.True(t, sk.Equal(sk2))
	ek2, err := f.LoadECDSA(filepath.Join(dir, "tls-key.pem"))
	require.NoError(t, err)
	require.True(t, ek.Equal(ek2))
	s2, err := f.Secret(filepath.Join(dir, "subject-key"), 32)
	require.NoError(t, err)
	require.Equal(t, secret, s2)
	require.Equal(t, []string{"sm2.pem", "tls-key.pem", "subject-key"}, upgraded)
	for _, name := range upgraded {
		ok, err := Protected(filepath.Join(dir, name))
		require.NoError(t, err)
		require.True(t, ok, name)
	}
	// Loading again changes nothing more.
	upgraded = nil
	_, err = f.Secret(filepath.Join(dir, "subject-key"), 32)
	require.NoError(t, err)
	require.Empty(t, upgraded)
	// A short secret is refused rather than used.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "short"), []byte("0123456789"), 0o600))
	_, err = f.Secret(filepath.Join(dir, "short"), 32)
	require.ErrorContains(t, err, "at least 32")
}

// TestSignerSeamSignsSM2: what the HSM/KMS seam promises an SM2 signer does — Sign with
// sm2.DefaultSM2SignerOpts takes the message and computes Z with the default user ID — holds
// for the file implementation, so a signature made through the interface verifies with
// certs/sm (and fails for another message).
func TestSignerSeamSignsSM2(t *testing.T) {
	var s Signers = Files{Password: []byte("correct horse battery")}
	signer, err := s.Signer(filepath.Join(t.TempDir(), "hub-signing-key.pem"))
	require.NoError(t, err)
	msg := []byte("tree head 42")
	sig, err := signer.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	require.NoError(t, err)
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	require.True(t, ok, "an SM2 signer's public key is an *ecdsa.PublicKey on the SM2 curve")
	require.NoError(t, sm.Verify(pub, msg, sig))
	require.Error(t, sm.Verify(pub, []byte(strings.ToUpper(string(msg))), sig))
}
