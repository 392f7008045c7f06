// Package smtest runs the system OpenSSL 3 in tests, an independent SM2, SM3 and ASN.1
// implementation to check gxhub's signatures against. It is for tests only.
package smtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// OpenSSL runs openssl with args and returns its combined output; it fails the test when
// openssl fails, and skips it when openssl is not installed (outside CI).
func OpenSSL(t testing.TB, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI for SM2 interop tests")
		}
		t.Skip("openssl not installed: SM2 interop not tested")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	require.NoError(t, err, "openssl %s: %s", strings.Join(args, " "), out)
	return out
}

// VerifySM2 has OpenSSL check an SM2 signature (default user ID 1234567812345678, SM3)
// over msg with the public key of a DER certificate, and check that it fails over other
// bytes.
func VerifySM2(t testing.TB, certDER, msg, sig []byte) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	pub := filepath.Join(dir, "pub.pem")
	OpenSSL(t, "x509", "-inform", "DER", "-in", write("c.der", certDER), "-pubkey", "-noout", "-out", pub)
	args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", write("msg", msg), "-sigfile", write("sig", sig)}
	require.Contains(t, string(OpenSSL(t, args...)), "Signature Verified Successfully")
	args[len(args)-3] = write("other", append([]byte{0}, msg...))
	out, err := exec.Command("openssl", args...).CombinedOutput()
	require.Error(t, err, "OpenSSL accepted the signature over other bytes: %s", out)
}
