package main_test

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
)

// sm2Run runs a built gxctl and returns stdout, stderr and the exit code.
type sm2Run func(stdin []byte, args ...string) (stdout, stderr string, code int)

func buildGxctl(t *testing.T) sm2Run {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gxctl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gxhub/gxhub/cmd/gxctl").CombinedOutput()
	require.NoError(t, err, "build gxctl: %s", out)
	return func(stdin []byte, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "GXCTL_IDENTITY=", "GXCTL_HUB=")
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return so.String(), se.String(), ee.ExitCode()
		}
		require.NoError(t, err)
		return so.String(), se.String(), 0
	}
}

func needOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI for the gxctl sm2 cross-checks")
		}
		t.Skip("openssl not installed: gxctl sm2 cross-check with OpenSSL NOT tested")
	}
	return p
}

func TestSM2CLI(t *testing.T) {
	openssl := needOpenSSL(t)
	gxctl := buildGxctl(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, data []byte) string {
		require.NoError(t, os.WriteFile(path(name), data, 0o644))
		return path(name)
	}
	ossl := func(args ...string) (string, bool) {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		return string(out), err == nil
	}
	msg := write("msg.txt", []byte("关于共享营业执照数据的函\n"+strings.Repeat("x", 1000)))
	other := write("other.txt", []byte("关于共享营业执照数据的函\n"+strings.Repeat("y", 1000)))
	pwFile := write("pw.txt", []byte("s3cret-pw\n"))

	// keygen
	so, se, code := gxctl(nil, "sm2", "keygen", "--out", path("key.pem"), "--pub", path("pub.pem"), "--password-file", pwFile)
	require.Equal(t, 0, code, so+se)
	require.Contains(t, so, "encrypted")
	st, err := os.Stat(path("key.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	out, ok := ossl("pkey", "-in", path("key.pem"), "-passin", "pass:s3cret-pw", "-pubout")
	require.True(t, ok, "openssl cannot read the key gxctl wrote: %s", out)
	pubPEM, err := os.ReadFile(path("pub.pem"))
	require.NoError(t, err)
	require.Equal(t, string(pubPEM), out, "--pub differs from the key's public key")

	t.Run("keygen refuses to overwrite", func(t *testing.T) {
		_, se, code := gxctl(nil, "sm2", "keygen", "--out", path("key.pem"))
		require.Equal(t, 2, code)
		require.Contains(t, se, "--force")
	})

	so, se, code = gxctl(nil, "sm2", "sign", "--key", path("key.pem"), "--password-file", pwFile, "--in", msg, "--out", path("msg.sig"))
	require.Equal(t, 0, code, so+se)

	t.Run("gxctl signs, openssl verifies", func(t *testing.T) {
		sig, err := os.ReadFile(path("msg.sig"))
		require.NoError(t, err)
		_, err = sm.DERToRaw(sig)
		require.NoError(t, err, "the signature is not DER")
		out, ok := ossl("pkeyutl", "-verify", "-pubin", "-inkey", path("pub.pem"), "-rawin", "-digest", "sm3",
			"-pkeyopt", "distid:"+sm.DefaultUID, "-in", msg, "-sigfile", path("msg.sig"))
		require.True(t, ok, out)
		require.Contains(t, out, "Signature Verified Successfully")
		out, ok = ossl("pkeyutl", "-verify", "-pubin", "-inkey", path("pub.pem"), "-rawin", "-digest", "sm3",
			"-pkeyopt", "distid:"+sm.DefaultUID, "-in", other, "-sigfile", path("msg.sig"))
		require.False(t, ok, "openssl accepted the signature over another file: %s", out)
	})

	// an OpenSSL key and signatures for the verify cases
	_, ok = ossl("genpkey", "-algorithm", "SM2", "-out", path("ossl.key"))
	require.True(t, ok)
	_, ok = ossl("pkey", "-in", path("ossl.key"), "-pubout", "-out", path("ossl.pub"))
	require.True(t, ok)
	out, ok = ossl("pkeyutl", "-sign", "-inkey", path("ossl.key"), "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:"+sm.DefaultUID, "-in", msg, "-out", path("ossl.sig"))
	require.True(t, ok, out)
	osslSig, err := os.ReadFile(path("ossl.sig"))
	require.NoError(t, err)
	raw, err := sm.DERToRaw(osslSig)
	require.NoError(t, err)
	write("ossl.raw", raw)
	write("ossl.hex", []byte(hex.EncodeToString(osslSig)+"\n"))
	write("ossl.b64", []byte(base64.StdEncoding.EncodeToString(raw)))
	write("garbage.sig", []byte("this is not a signature"))

	// the key gxctl made, with a certificate from a test PKI, for --cert
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	rootCA, err := pki.NewRootCA(pkix.Name{CommonName: "cli test root"}, t0, 10*365*24*time.Hour)
	require.NoError(t, err)
	issuing, err := rootCA.NewIssuingCA(pkix.Name{CommonName: "cli test issuing"}, t0, 5*365*24*time.Hour)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(path("key.pem"))
	require.NoError(t, err)
	key, err := sm.ParsePrivateKeyPEM(keyPEM, []byte("s3cret-pw"))
	require.NoError(t, err)
	cert, err := issuing.IssueDepartmentCert(&key.PublicKey, pki.DepartmentSubject{Code: "11330105002500287C", Name: "测试局", Region: "浙江省"}, t0, 30*24*time.Hour)
	require.NoError(t, err)
	write("cert.pem", pki.EncodeCertsPEM(cert))
	write("root.pem", pki.EncodeCertsPEM(rootCA.Cert))
	write("chain.pem", pki.EncodeCertsPEM(issuing.Cert))
	otherRoot, err := pki.NewRootCA(pkix.Name{CommonName: "other root"}, t0, 365*24*time.Hour)
	require.NoError(t, err)
	write("other-root.pem", pki.EncodeCertsPEM(otherRoot.Cert))
	inValidity := time.Now().Format(time.RFC3339)
	afterExpiry := t0.Add(40 * 24 * time.Hour).Format(time.RFC3339)

	cases := []struct {
		name string
		args []string
		code int
		sub  string // expected in stdout+stderr
	}{
		{"openssl DER", []string{"--pub", path("ossl.pub"), "--in", msg, "--sig", path("ossl.sig")}, 0, "valid: SM2 signature"},
		{"openssl raw r||s", []string{"--pub", path("ossl.pub"), "--in", msg, "--sig", path("ossl.raw")}, 0, "valid: SM2 signature"},
		{"hex text", []string{"--pub", path("ossl.pub"), "--in", msg, "--sig", path("ossl.hex")}, 0, "valid: SM2 signature"},
		{"base64 raw text", []string{"--pub", path("ossl.pub"), "--in", msg, "--sig", path("ossl.b64")}, 0, "valid: SM2 signature"},
		{"other file", []string{"--pub", path("ossl.pub"), "--in", other, "--sig", path("ossl.sig")}, 1, "INVALID"},
		{"other key", []string{"--pub", path("pub.pem"), "--in", msg, "--sig", path("ossl.sig")}, 1, "INVALID"},
		{"own sig with cert", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig")}, 0, "not checked"},
		{"cert valid at --at", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig"), "--at", inValidity}, 0, "valid: SM2 signature"},
		{"cert expired at --at", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig"), "--at", afterExpiry}, 1, "not valid at"},
		{"chain ok", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig"), "--trust", path("root.pem"), "--chain", path("chain.pem"), "--at", inValidity}, 0, "11330105002500287C"},
		{"chain expired", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig"), "--trust", path("root.pem"), "--chain", path("chain.pem"), "--at", afterExpiry}, 1, "had expired"},
		{"chain wrong root", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig"), "--trust", path("other-root.pem"), "--chain", path("chain.pem")}, 1, "trusted root"},
		{"cert of another key", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("ossl.sig")}, 1, "INVALID"},
		{"garbage signature", []string{"--pub", path("ossl.pub"), "--in", msg, "--sig", path("garbage.sig")}, 2, "neither"},
		{"missing signature file", []string{"--pub", path("ossl.pub"), "--in", msg, "--sig", path("nope.sig")}, 2, "no such file"},
		{"not a key", []string{"--pub", msg, "--in", msg, "--sig", path("ossl.sig")}, 2, "PEM"},
		{"both cert and pub", []string{"--pub", path("ossl.pub"), "--cert", path("cert.pem"), "--in", msg, "--sig", path("ossl.sig")}, 2, "exactly one"},
		{"no key", []string{"--in", msg, "--sig", path("ossl.sig")}, 2, "exactly one"},
		{"bad --at", []string{"--cert", path("cert.pem"), "--in", msg, "--sig", path("msg.sig"), "--at", "yesterday"}, 2, "RFC 3339"},
		{"unknown flag", []string{"--pub", path("ossl.pub"), "--bogus"}, 2, "unknown flag"},
	}
	for _, tc := range cases {
		t.Run("verify/"+tc.name, func(t *testing.T) {
			so, se, code := gxctl(nil, append([]string{"sm2", "verify"}, tc.args...)...)
			require.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", so, se)
			require.Contains(t, so+se, tc.sub)
		})
	}

	t.Run("stdin and stdout", func(t *testing.T) {
		data, err := os.ReadFile(msg)
		require.NoError(t, err)
		so, se, code := gxctl(data, "sm2", "sign", "--key", path("ossl.key"), "--in", "-", "--out", "-", "--raw")
		require.Equal(t, 0, code, se)
		require.Len(t, so, sm.RawSignatureSize)
		write("stdout.sig", []byte(so))
		_, se, code = gxctl(data, "sm2", "verify", "--pub", path("ossl.pub"), "--in", "-", "--sig", path("stdout.sig"))
		require.Equal(t, 0, code, se)
	})

	t.Run("sign errors", func(t *testing.T) {
		_, se, code := gxctl(nil, "sm2", "sign", "--key", path("key.pem"), "--in", msg, "--out", path("x.sig"))
		require.Equal(t, 2, code)
		require.Contains(t, se, "encrypted")
		wrong := write("wrong-pw.txt", []byte("nope"))
		_, se, code = gxctl(nil, "sm2", "sign", "--key", path("key.pem"), "--password-file", wrong, "--in", msg, "--out", path("x.sig"))
		require.Equal(t, 2, code)
		require.Contains(t, se, "wrong password")
		_, se, code = gxctl(nil, "sm2", "sign", "--key", path("key.pem"), "--in", msg)
		require.Equal(t, 2, code)
		require.Contains(t, se, "required")
		_, err := os.Stat(path("x.sig"))
		require.True(t, os.IsNotExist(err), "a failed sign left a signature file")
	})
}
