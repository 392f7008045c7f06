package reqsig_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

func reason(t *testing.T, err error) string {
	t.Helper()
	require.Error(t, err)
	var e *reqsig.Error
	require.ErrorAs(t, err, &e)
	require.NotEmpty(t, e.Msg)
	return e.Reason
}

func TestSignVerify(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	other, err := sm.GenerateKey()
	require.NoError(t, err)
	now := time.Unix(1_790_000_000, 0)
	body := []byte(`{"subject":"500101199001011234"}`)
	h, err := reqsig.Sign(key, "DEPT", "post", "/v1/pulls?x=1", body, now)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "GXHUB-SM2 "))

	req, err := reqsig.Parse(h)
	require.NoError(t, err)
	require.Equal(t, "DEPT", req.Department)
	ok := reqsig.Expect{Method: "POST", Path: "/v1/pulls?x=1", Body: body, Now: now.Add(time.Minute)}
	c, err := req.Verify(&key.PublicKey, ok)
	require.NoError(t, err)
	require.Equal(t, "POST", c.Method)
	require.Len(t, c.Nonce, 22)

	tests := map[string]struct {
		pub    *sm.PrivateKey
		e      reqsig.Expect
		reason string
	}{
		"fail/other key":    {other, ok, reqsig.ReasonBadSignature},
		"fail/path":         {key, with(ok, func(e *reqsig.Expect) { e.Path = "/v1/pulls" }), reqsig.ReasonScopeMismatch},
		"fail/method":       {key, with(ok, func(e *reqsig.Expect) { e.Method = "PUT" }), reqsig.ReasonScopeMismatch},
		"fail/body":         {key, with(ok, func(e *reqsig.Expect) { e.Body = append([]byte{' '}, body...) }), reqsig.ReasonBodyDigest},
		"fail/too old":      {key, with(ok, func(e *reqsig.Expect) { e.Now = now.Add(6 * time.Minute) }), reqsig.ReasonExpired},
		"fail/future":       {key, with(ok, func(e *reqsig.Expect) { e.Now = now.Add(-6 * time.Minute) }), reqsig.ReasonExpired},
		"fail/custom skew":  {key, with(ok, func(e *reqsig.Expect) { e.MaxSkew = 30 * time.Second }), reqsig.ReasonExpired},
		"fail/digest given": {key, with(ok, func(e *reqsig.Expect) { e.BodyDigest = reqsig.BodyDigest(nil) }), reqsig.ReasonBodyDigest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := req.Verify(&tc.pub.PublicKey, tc.e)
			require.Equal(t, tc.reason, reason(t, err))
		})
	}
	_, err = req.Verify(&key.PublicKey, with(ok, func(e *reqsig.Expect) { e.BodyDigest = reqsig.BodyDigest(body); e.Body = nil }))
	require.NoError(t, err, "ok/precomputed digest")
}

func with(e reqsig.Expect, f func(*reqsig.Expect)) reqsig.Expect {
	f(&e)
	return e
}

func TestParseRejects(t *testing.T) {
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	h, err := reqsig.Sign(key, "DEPT", "GET", "/", nil, time.Now())
	require.NoError(t, err)
	tok := strings.TrimPrefix(h, "GXHUB-SM2 ")
	for name, tc := range map[string]struct{ header, reason string }{
		"fail/empty":        {"", reqsig.ReasonUnsigned},
		"fail/spaces":       {"   ", reqsig.ReasonUnsigned},
		"fail/bearer":       {"Bearer " + tok, reqsig.ReasonMalformed},
		"fail/no token":     {"GXHUB-SM2", reqsig.ReasonMalformed},
		"fail/garbage":      {"GXHUB-SM2 abc", reqsig.ReasonMalformed},
		"fail/two dots":     {"GXHUB-SM2 a.b.c", reqsig.ReasonMalformed},
		"ok/lowercase name": {"gxhub-sm2 " + tok, ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := reqsig.Parse(tc.header)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.reason, reason(t, err))
		})
	}
}

func FuzzParse(f *testing.F) {
	key, _ := sm.GenerateKey()
	h, _ := reqsig.Sign(key, "DEPT", "GET", "/v1/whoami", nil, time.Unix(1_790_000_000, 0))
	f.Add(h)
	f.Add("GXHUB-SM2 eyJhbGciOiJTTTJTTTMifQ.e30.AA")
	f.Fuzz(func(t *testing.T, header string) {
		req, err := reqsig.Parse(header)
		if err != nil {
			return
		}
		_, _ = req.Verify(&key.PublicKey, reqsig.Expect{Method: "GET", Path: "/v1/whoami", Now: time.Unix(1_790_000_000, 0)})
	})
}
