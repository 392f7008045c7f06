package sm_test

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/sm/smtest"
)

type vectors struct {
	AnnexA struct {
		PrivateKeyHex string `json:"private_key_hex"`
		PublicKeyHex  string `json:"public_key_uncompressed_hex"`
		Message       string `json:"message_ascii"`
		R             string `json:"r_hex"`
		S             string `json:"s_hex"`
		DER           string `json:"signature_der_hex"`
	} `json:"sm2_sign_gmt0003_5_annexA"`
	SM3 map[string]string `json:"sm3"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/sm2_sm3_vectors.json")
	require.NoError(t, err)
	var v vectors
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func annexAKey(t *testing.T, v vectors) *ecdsa.PublicKey {
	t.Helper()
	pub, err := sm2.NewPublicKey(mustHex(t, v.AnnexA.PublicKeyHex))
	require.NoError(t, err)
	return pub
}

func TestAnnexAVector(t *testing.T) {
	v := loadVectors(t)
	pub := annexAKey(t, v)
	der := mustHex(t, v.AnnexA.DER)
	raw := append(mustHex(t, v.AnnexA.R), mustHex(t, v.AnnexA.S)...)

	// The published signature verifies in both encodings over the published message.
	require.NoError(t, sm.Verify(pub, []byte(v.AnnexA.Message), der))
	require.NoError(t, sm.Verify(pub, []byte(v.AnnexA.Message), raw))

	gotRaw, err := sm.DERToRaw(der)
	require.NoError(t, err)
	require.Equal(t, raw, gotRaw)
	gotDER, err := sm.RawToDER(raw)
	require.NoError(t, err)
	require.Equal(t, der, gotDER)

	// The vector's expected negatives.
	require.ErrorIs(t, sm.Verify(pub, []byte("message digesT"), der), sm.ErrBadSignature)
	n := sm2.P256().Params().N
	s := new(big.Int).SetBytes(raw[32:])
	negS := new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))
	require.ErrorIs(t, sm.Verify(pub, []byte(v.AnnexA.Message), append(append([]byte{}, raw[:32]...), negS...)), sm.ErrBadSignature)

	// The private key of the vector signs messages that verify under its public key.
	priv, err := sm2.NewPrivateKey(mustHex(t, v.AnnexA.PrivateKeyHex))
	require.NoError(t, err)
	require.True(t, priv.PublicKey.Equal(pub))
	sig, err := sm.Sign(priv, []byte(v.AnnexA.Message))
	require.NoError(t, err)
	require.NoError(t, sm.Verify(pub, []byte(v.AnnexA.Message), sig))
}

func TestSM3Vectors(t *testing.T) {
	v := loadVectors(t)
	inputs := map[string]string{
		"abc":                         "abc",
		"abcd x16 (64 bytes)":         strings.Repeat("abcd", 16),
		"abcd x16 + 'abc' (67 bytes)": strings.Repeat("abcd", 16) + "abc",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			want, ok := v.SM3[name]
			require.True(t, ok, "vector %q missing", name)
			got := sm.Sum([]byte(in))
			require.Equal(t, want, hex.EncodeToString(got[:]))
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	msg := []byte("gxhub")
	sig, err := sm.Sign(key, msg)
	require.NoError(t, err)
	other, err := sm.GenerateKey()
	require.NoError(t, err)

	tests := map[string]struct {
		pub     *ecdsa.PublicKey
		sig     []byte
		wantBad bool // well-formed but wrong
	}{
		"fail/other key":        {pub: &other.PublicKey, sig: sig, wantBad: true},
		"fail/truncated DER":    {pub: &key.PublicKey, sig: sig[:len(sig)-1]},
		"fail/trailing bytes":   {pub: &key.PublicKey, sig: append(append([]byte{}, sig...), 0)},
		"fail/empty":            {pub: &key.PublicKey, sig: nil},
		"fail/raw of zeros":     {pub: &key.PublicKey, sig: make([]byte, 64)},
		"fail/63 raw bytes":     {pub: &key.PublicKey, sig: bytes.Repeat([]byte{1}, 63)},
		"fail/flipped last bit": {pub: &key.PublicKey, sig: flip(sig, len(sig)-1), wantBad: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := sm.Verify(tc.pub, msg, tc.sig)
			require.Error(t, err)
			require.Equal(t, tc.wantBad, errors.Is(err, sm.ErrBadSignature), "error %v", err)
		})
	}
	require.NoError(t, sm.Verify(&key.PublicKey, msg, sig), "ok/original")
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

func TestKeyPEMRoundTrip(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	for _, pw := range [][]byte{nil, []byte("s3cret")} {
		p, err := sm.MarshalPrivateKeyPEM(key, pw)
		require.NoError(t, err)
		got, err := sm.ParsePrivateKeyPEM(p, pw)
		require.NoError(t, err)
		require.True(t, key.Equal(got))
		if pw != nil {
			_, err := sm.ParsePrivateKeyPEM(p, nil)
			require.ErrorContains(t, err, "encrypted")
			_, err = sm.ParsePrivateKeyPEM(p, []byte("wrong"))
			require.Error(t, err)
		}
	}
	pubPEM, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	require.NoError(t, err)
	pub, err := sm.ParsePublicKeyPEM(pubPEM)
	require.NoError(t, err)
	require.True(t, key.PublicKey.Equal(pub))
}

// openssl runs the system OpenSSL 3 (an independent SM2 implementation).
func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	return smtest.OpenSSL(t, args...)
}

// TestOpenSSLInterop signs with each side and verifies with the other, with encrypted and
// plain key files, so that keys, signatures and Z computation agree with OpenSSL 3.
func TestOpenSSLInterop(t *testing.T) {
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "msg.bin")
	msg := []byte("统一社会信用代码 91110000000000000X; gxhub interop")
	require.NoError(t, os.WriteFile(msgFile, msg, 0o600))

	t.Run("ok/gxhub signs, openssl verifies", func(t *testing.T) {
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		kp, err := sm.MarshalPrivateKeyPEM(key, []byte("pw123456"))
		require.NoError(t, err)
		keyFile := filepath.Join(dir, "ours.key")
		require.NoError(t, os.WriteFile(keyFile, kp, 0o600))
		pubFile := filepath.Join(dir, "ours.pub")
		// OpenSSL must be able to read our encrypted PKCS#8 and derive the same public key.
		openssl(t, "pkey", "-in", keyFile, "-passin", "pass:pw123456", "-pubout", "-out", pubFile)
		pub, err := os.ReadFile(pubFile)
		require.NoError(t, err)
		gotPub, err := sm.ParsePublicKeyPEM(pub)
		require.NoError(t, err)
		require.True(t, key.PublicKey.Equal(gotPub))

		sig, err := sm.Sign(key, msg)
		require.NoError(t, err)
		sigFile := filepath.Join(dir, "ours.sig")
		require.NoError(t, os.WriteFile(sigFile, sig, 0o600))
		out := openssl(t, "pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-digest", "sm3",
			"-pkeyopt", "distid:"+sm.DefaultUID, "-in", msgFile, "-sigfile", sigFile)
		require.Contains(t, string(out), "Signature Verified Successfully")

		// And OpenSSL refuses it over another message: the check above can fail.
		other := filepath.Join(dir, "other.bin")
		require.NoError(t, os.WriteFile(other, append(msg, '!'), 0o600))
		bad, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-digest", "sm3",
			"-pkeyopt", "distid:"+sm.DefaultUID, "-in", other, "-sigfile", sigFile).CombinedOutput()
		require.Error(t, err, "openssl accepted a signature over another message: %s", bad)
	})

	t.Run("ok/openssl signs, gxhub verifies", func(t *testing.T) {
		keyFile := filepath.Join(dir, "theirs.key")
		openssl(t, "genpkey", "-algorithm", "SM2", "-out", keyFile)
		kp, err := os.ReadFile(keyFile)
		require.NoError(t, err)
		key, err := sm.ParsePrivateKeyPEM(kp, nil)
		require.NoError(t, err)
		sigFile := filepath.Join(dir, "theirs.sig")
		openssl(t, "pkeyutl", "-sign", "-inkey", keyFile, "-rawin", "-digest", "sm3",
			"-pkeyopt", "distid:"+sm.DefaultUID, "-in", msgFile, "-out", sigFile)
		sig, err := os.ReadFile(sigFile)
		require.NoError(t, err)
		require.NoError(t, sm.Verify(&key.PublicKey, msg, sig))
		raw, err := sm.DERToRaw(sig)
		require.NoError(t, err)
		require.NoError(t, sm.Verify(&key.PublicKey, msg, raw))
		require.ErrorIs(t, sm.Verify(&key.PublicKey, append(msg, '!'), sig), sm.ErrBadSignature)
	})
}

func BenchmarkSign(b *testing.B) {
	key, _ := sm.GenerateKey()
	msg := make([]byte, 256)
	for b.Loop() {
		if _, err := sm.Sign(key, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	key, _ := sm.GenerateKey()
	msg := make([]byte, 256)
	sig, _ := sm.Sign(key, msg)
	for b.Loop() {
		if err := sm.Verify(&key.PublicKey, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}
