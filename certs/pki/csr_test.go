package pki

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
)

func TestCSR(t *testing.T) {
	f := newFixture(t)
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	want := DepartmentSubject{Code: codeA, Name: "杭州市西湖区数据资源管理局", Region: "浙江省杭州市"}
	csrPEM, err := CreateCSR(key, want)
	require.NoError(t, err)

	pub, got, err := ParseCSR(csrPEM)
	require.NoError(t, err)
	require.True(t, pub.Equal(&key.PublicKey))
	require.Equal(t, want, got)
	cert, err := f.issuing.IssueDepartmentCert(pub, got, t0, year)
	require.NoError(t, err)
	require.True(t, key.PublicKey.Equal(cert.PublicKey))

	t.Run("tampered request", func(t *testing.T) {
		block, _ := pem.Decode(csrPEM)
		require.NotNil(t, block)
		der := append([]byte(nil), block.Bytes...)
		der[len(der)-3] ^= 0x01 // inside the signature
		_, _, err := ParseCSR(der)
		require.ErrorContains(t, err, "proof of possession")
	})
	t.Run("not a CSR", func(t *testing.T) {
		_, _, err := ParseCSR(EncodeCertsPEM(cert))
		require.ErrorContains(t, err, "expected \"CERTIFICATE REQUEST\"")
		_, _, err = ParseCSR([]byte("junk"))
		require.ErrorContains(t, err, "parse CSR")
	})
}

func TestCSROpenSSL(t *testing.T) {
	opensslPath(t)
	dir := t.TempDir()
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	csrPEM, err := CreateCSR(key, DepartmentSubject{Code: codeA, Name: "测试局", Region: "浙江省"})
	require.NoError(t, err)
	ours := filepath.Join(dir, "ours.csr")
	require.NoError(t, os.WriteFile(ours, csrPEM, 0o644))

	t.Run("openssl verifies our request", func(t *testing.T) {
		out, ok := runOpenSSL(t, "req", "-in", ours, "-noout", "-verify", "-vfyopt", "distid:"+sm.DefaultUID)
		require.True(t, ok, out)
		require.Contains(t, out, "verify OK")
	})
	t.Run("we verify an openssl request", func(t *testing.T) {
		keyFile, csrFile := filepath.Join(dir, "o.key"), filepath.Join(dir, "o.csr")
		out, ok := runOpenSSL(t, "genpkey", "-algorithm", "SM2", "-out", keyFile)
		require.True(t, ok, out)
		out, ok = runOpenSSL(t, "req", "-new", "-key", keyFile, "-sm3", "-sigopt", "distid:"+sm.DefaultUID,
			"-subj", "/C=CN/L=Hangzhou/O=OpenSSL Dept/CN=OpenSSL Dept/serialNumber="+codeB, "-out", csrFile)
		require.True(t, ok, out)
		data, err := os.ReadFile(csrFile)
		require.NoError(t, err)
		pub, d, err := ParseCSR(data)
		require.NoError(t, err)
		require.Equal(t, DepartmentSubject{Code: codeB, Name: "OpenSSL Dept", Region: "Hangzhou"}, d)
		out, ok = runOpenSSL(t, "pkey", "-in", keyFile, "-pubout")
		require.True(t, ok, out)
		want, err := sm.ParsePublicKeyPEM([]byte(out))
		require.NoError(t, err)
		require.True(t, pub.Equal(want))

		// a request signed without the default ID (empty ID) must fail proof of possession
		out, ok = runOpenSSL(t, "req", "-new", "-key", keyFile, "-sm3", "-sigopt", "distid:other-id",
			"-subj", "/CN=x", "-out", csrFile)
		require.True(t, ok, out)
		data, err = os.ReadFile(csrFile)
		require.NoError(t, err)
		_, _, err = ParseCSR(data)
		require.ErrorContains(t, err, "proof of possession")
	})
}
