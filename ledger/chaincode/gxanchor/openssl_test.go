package gxanchor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenSSLSignedHead anchors heads whose key was made and whose signatures were made by
// OpenSSL 3 (SM2 with SM3 and the default distinguishing ID), as an independent
// implementation of what the hub's signer must produce.
func TestOpenSSLSignedHead(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl not found: install OpenSSL 3 (make test-setup): %v", err)
	}
	dir := t.TempDir()
	opensslRun := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("openssl", args...).CombinedOutput()
		require.NoError(t, err, "openssl %v: %s", args, out)
		return out
	}
	keyFile := filepath.Join(dir, "key.pem")
	opensslRun("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", keyFile)
	pubPEM := opensslRun("pkey", "-in", keyFile, "-pubout")
	sign := func(h *Head, root []byte) {
		msgFile := filepath.Join(dir, "msg")
		require.NoError(t, os.WriteFile(msgFile, SignedMessage(h.LogID, h.Size, root, h.Time), 0o600))
		sig := opensslRun("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
			"-inkey", keyFile, "-in", msgFile)
		h.Signature = b64(sig)
	}

	st := memState{}
	_, err := InitLog(st, txN(0), "gxhub.example.gov.cn/audit", string(pubPEM))
	require.NoError(t, err, "an OpenSSL SM2 public key must register")
	d := leaves(7, "ossl")
	h3 := Head{LogID: "gxhub.example.gov.cn/audit", Size: 3, RootHash: b64(refMTH(d[:3])), Time: testTime}
	sign(&h3, refMTH(d[:3]))
	_, _, err = AnchorHead(st, txN(1), h3, nil)
	require.NoError(t, err, "an OpenSSL SM2 signature must verify")

	h7 := Head{LogID: h3.LogID, Size: 7, RootHash: b64(refMTH(d)), Time: testTime + 1}
	sign(&h7, refMTH(d))
	h7.Time++ // signed over another time
	_, _, err = AnchorHead(st, txN(2), h7, b64Proof(refConsistency(3, d)))
	require.ErrorIs(t, err, ErrBadSignature)
	h7.Time--
	_, _, err = AnchorHead(st, txN(2), h7, b64Proof(refConsistency(3, d)))
	require.NoError(t, err)
}
