package jws_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/certs/sm"
)

func TestSignVerify(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	tok, err := jws.Sign(key, "dept-1", "test+jwt", []byte(`{"a":1}`))
	require.NoError(t, err)

	parsed, err := jws.Parse(tok)
	require.NoError(t, err)
	require.Equal(t, "dept-1", parsed.KeyID)
	require.Equal(t, "test+jwt", parsed.Type)
	payload, err := parsed.Verify(&key.PublicKey)
	require.NoError(t, err)
	require.JSONEq(t, `{"a":1}`, string(payload))

	// The signature part is raw r‖s (64 bytes), and verifies with certs/sm directly.
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Len(t, sig, 64)
	require.NoError(t, sm.Verify(&key.PublicKey, []byte(parts[0]+"."+parts[1]), sig))
}

func TestRejects(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	other, err := sm.GenerateKey()
	require.NoError(t, err)
	tok, err := jws.Sign(key, "dept-1", "", []byte(`{"a":1}`))
	require.NoError(t, err)
	parts := strings.Split(tok, ".")

	header := func(h map[string]any) string {
		b, _ := json.Marshal(h)
		return base64.RawURLEncoding.EncodeToString(b)
	}

	t.Run("fail/other key", func(t *testing.T) {
		p, err := jws.Parse(tok)
		require.NoError(t, err)
		_, err = p.Verify(&other.PublicKey)
		require.ErrorIs(t, err, sm.ErrBadSignature)
	})
	t.Run("fail/payload changed", func(t *testing.T) {
		p, err := jws.Parse(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"a":2}`)) + "." + parts[2])
		require.NoError(t, err)
		_, err = p.Verify(&key.PublicKey)
		require.Error(t, err)
	})
	for _, alg := range []string{"ES256", "none", "HS256", "sm2sm3"} {
		t.Run("fail/alg "+alg+" refused at parse", func(t *testing.T) {
			_, err := jws.Parse(header(map[string]any{"alg": alg, "kid": "dept-1"}) + "." + parts[1] + "." + parts[2])
			require.Error(t, err)
		})
	}
	t.Run("fail/no kid", func(t *testing.T) {
		_, err := jws.Parse(header(map[string]any{"alg": "SM2SM3"}) + "." + parts[1] + "." + parts[2])
		require.ErrorContains(t, err, "kid")
	})
	t.Run("fail/DER signature instead of r‖s", func(t *testing.T) {
		der, err := sm.Sign(key, []byte(parts[0]+"."+parts[1]))
		require.NoError(t, err)
		p, err := jws.Parse(parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(der))
		require.NoError(t, err)
		_, err = p.Verify(&key.PublicKey)
		require.ErrorContains(t, err, "64 bytes")
	})
	t.Run("fail/garbage", func(t *testing.T) {
		for _, s := range []string{"", "a.b", "a.b.c", "...", "{}"} {
			_, err := jws.Parse(s)
			require.Error(t, err, s)
		}
	})
}

func FuzzParse(f *testing.F) {
	key, _ := sm.GenerateKey()
	tok, _ := jws.Sign(key, "k", "t", []byte("{}"))
	f.Add(tok)
	f.Add("eyJhbGciOiJTTTJTTTMiLCJraWQiOiJrIn0.e30.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := jws.Parse(s)
		if err != nil {
			return
		}
		_, _ = p.Verify(&key.PublicKey)
	})
}
