package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/jws"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
)

func TestSignIn(t *testing.T) {
	th := startHub(t, func(c *config.Config) { c.AuditHeadInterval = 100 * time.Millisecond })
	th.seedAudit(t, 1)
	auditor := th.identity(t, 0)
	other := th.identity(t, 2)
	now := time.Now()
	sign := func(t *testing.T, payload string, typ string) string {
		tok, err := jws.Sign(auditor.Key, auditor.Code, typ, []byte(payload))
		require.NoError(t, err)
		return tok
	}
	refusals := []struct {
		name   string
		token  func(t *testing.T) string
		ui     bool
		reason string
	}{
		{"no UI header", func(t *testing.T) string {
			tok, _ := server.SignLogin(auditor.Key, auditor.Code, th.url, now)
			return tok
		}, false, server.ReasonUIHeader},
		{"other hub", func(t *testing.T) string {
			tok, _ := server.SignLogin(auditor.Key, auditor.Code, "https://hub.example.gov.cn", now)
			return tok
		}, true, server.ReasonLoginAudience},
		{"expired", func(t *testing.T) string {
			tok, _ := server.SignLogin(auditor.Key, auditor.Code, th.url, now.Add(-10*time.Minute))
			return tok
		}, true, "REQUEST_EXPIRED"},
		{"lifetime over 2 minutes", func(t *testing.T) string {
			return sign(t, `{"aud":"`+th.url+`","nonce":"0123456789abcdefXYZ","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Add(time.Hour).Unix())+`}`, server.LoginType)
		}, true, server.ReasonLoginInvalid},
		{"request-signature typ", func(t *testing.T) string {
			return sign(t, `{"aud":"`+th.url+`","nonce":"0123456789abcdefXYZ","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Add(time.Minute).Unix())+`}`, "gxhub-req+jwt")
		}, true, server.ReasonLoginInvalid},
		{"short nonce", func(t *testing.T) string {
			return sign(t, `{"aud":"`+th.url+`","nonce":"short","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Add(time.Minute).Unix())+`}`, server.LoginType)
		}, true, server.ReasonLoginInvalid},
		{"signed with another department's key", func(t *testing.T) string {
			tok, _ := server.SignLogin(other.Key, auditor.Code, th.url, now)
			return tok
		}, true, server.ReasonLoginInvalid},
		{"unknown department", func(t *testing.T) string {
			tok, _ := server.SignLogin(auditor.Key, "91500000MA5UXXXX0X", th.url, now)
			return tok
		}, true, "DEPARTMENT_UNKNOWN"},
		{"garbage", func(t *testing.T) string { return "not.a.token" }, true, server.ReasonLoginInvalid},
	}
	for _, c := range refusals {
		t.Run("fail/"+c.name, func(t *testing.T) {
			cl := th.client(t)
			r := th.call(t, cl, "POST", "/ui/session", loginBody(c.token(t)), c.ui)
			require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
			require.Equal(t, c.reason, r.reason(), "%v", r.body)
			require.Empty(t, r.resp.Cookies())
			require.Equal(t, http.StatusUnauthorized, th.call(t, cl, "GET", "/v1/whoami", nil, true).status)
		})
	}

	t.Run("sign in, read, refused writes, sign out", func(t *testing.T) {
		cl := th.client(t)
		// Without a session the API needs a signature.
		require.Equal(t, "REQUEST_UNSIGNED", th.call(t, cl, "GET", "/v1/whoami", nil, true).reason())

		tok, err := server.SignLogin(auditor.Key, auditor.Code, th.url, time.Now())
		require.NoError(t, err)
		r := th.call(t, cl, "POST", "/ui/session", loginBody(tok), true)
		require.Equal(t, http.StatusOK, r.status, "%v", r.body)
		require.Equal(t, auditor.Code, r.body["department"])
		cookies := r.resp.Cookies()
		require.Len(t, cookies, 1)
		ck := cookies[0]
		require.Equal(t, server.SessionCookie, ck.Name)
		require.True(t, ck.HttpOnly)
		require.True(t, ck.Secure)
		require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
		require.InDelta(t, (8 * time.Hour).Seconds(), float64(ck.MaxAge), 5)

		who := th.call(t, cl, "GET", "/v1/whoami", nil, true)
		require.Equal(t, http.StatusOK, who.status, "%v", who.body)
		require.Contains(t, who.body["department"], "code")

		// The same link works once.
		again := th.call(t, th.client(t), "POST", "/ui/session", loginBody(tok), true)
		require.Equal(t, "REQUEST_REPLAYED", again.reason(), "%v", again.body)

		// The cookie alone (a cross-site request) is refused.
		require.Equal(t, server.ReasonUIHeader, th.call(t, cl, "GET", "/v1/whoami", nil, false).reason())
		// Writes need a signature.
		w := th.call(t, cl, "POST", "/v1/departments", []byte(`{}`), true)
		require.Equal(t, http.StatusForbidden, w.status, "%v", w.body)
		require.Equal(t, server.ReasonSessionScope, w.reason())
		// The audit log is readable for the auditor through the session.
		rec := th.call(t, cl, "GET", "/v1/audit/records/0", nil, true)
		require.Equal(t, http.StatusOK, rec.status, "%v", rec.body)

		out := th.call(t, cl, "POST", "/ui/logout", nil, true)
		require.Equal(t, http.StatusOK, out.status)
		// The jar dropped the cookie; replaying the old cookie value is refused too.
		req, _ := http.NewRequest("GET", th.url+"/v1/whoami", nil)
		req.Header.Set("X-Gxhub-UI", "1")
		req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: ck.Value})
		resp, err := th.client(t).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

// TestSignInTokenAttacks: the three ways a sign-in link used to outlive what it promised.
// The hub's clock is moved by the test (hub.WithClock), so nothing waits.
//   - late: a link is printed as valid for 2 minutes; used 6 s past exp it is refused (it was
//     accepted until exp + the 5-minute request skew), while one used 2 s past exp still works;
//   - Host header: a token made for https://evil.example sent with Host: evil.example is
//     refused (the audience was taken from the Host header), and a token for the hub's own
//     URL still works when the Host header says something else;
//   - before start: a token signed (within its lifetime and the skew) before the hub started
//     is refused, as request signatures are.
func TestSignInTokenAttacks(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	started := time.Now()
	th := startHub(t, nil, hub.WithClock(clock))
	auditor := th.identity(t, 0)
	login := func(t *testing.T, tok, host string) reply {
		req, err := http.NewRequest("POST", th.url+"/ui/session", bytes.NewReader(loginBody(tok)))
		require.NoError(t, err)
		req.Header.Set("X-Gxhub-UI", "1")
		req.Header.Set("Content-Type", "application/json")
		if host != "" {
			req.Host = host
		}
		resp, err := th.client(t).Do(req)
		require.NoError(t, err)
		raw := readAll(t, resp)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return reply{status: resp.StatusCode, body: m, resp: resp}
	}

	t.Run("late", func(t *testing.T) {
		signed := clock()
		late, err := server.SignLogin(auditor.Key, auditor.Code, th.url, signed)
		require.NoError(t, err)
		justInTime, err := server.SignLogin(auditor.Key, auditor.Code, th.url, signed)
		require.NoError(t, err)
		exp := time.Unix(signed.Unix(), 0).Add(server.LoginTTL)
		offset.Store(int64(exp.Add(2 * time.Second).Sub(time.Now())))
		ok := login(t, justInTime, "")
		require.Equal(t, http.StatusOK, ok.status, "a link used within the printed time: %v", ok.body)
		offset.Store(int64(exp.Add(server.LoginGrace + time.Second).Sub(time.Now())))
		r := login(t, late, "")
		require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
		require.Equal(t, "REQUEST_EXPIRED", r.reason(), "%v", r.body)
		require.Empty(t, r.resp.Cookies())
		offset.Store(0)
	})

	t.Run("Host header", func(t *testing.T) {
		evil, err := server.SignLogin(auditor.Key, auditor.Code, "https://evil.example", clock())
		require.NoError(t, err)
		r := login(t, evil, "evil.example")
		require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
		require.Equal(t, server.ReasonLoginAudience, r.reason(), "%v", r.body)
		require.Empty(t, r.resp.Cookies())
		own, err := server.SignLogin(auditor.Key, auditor.Code, th.url, clock())
		require.NoError(t, err)
		r = login(t, own, "evil.example")
		require.Equal(t, http.StatusOK, r.status, "the hub's own audience does not depend on Host: %v", r.body)
	})

	t.Run("before start", func(t *testing.T) {
		tok, err := server.SignLogin(auditor.Key, auditor.Code, th.url, started.Add(-30*time.Second))
		require.NoError(t, err)
		r := login(t, tok, "")
		require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
		require.Equal(t, server.ReasonLoginEarly, r.reason(), "%v", r.body)
		require.Empty(t, r.resp.Cookies())
	})

	// A department whose certificate the coordinator suspends loses its open session at its
	// next call and cannot sign in again; resumed, it can.
	t.Run("suspended department", func(t *testing.T) {
		police := th.identity(t, 2)
		cl := th.client(t)
		tok, err := server.SignLogin(police.Key, police.Code, th.url, clock())
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, th.call(t, cl, "POST", "/ui/session", loginBody(tok), true).status)
		require.Equal(t, http.StatusOK, th.call(t, cl, "GET", "/v1/whoami", nil, true).status)
		coord, err := sdk.Dial(context.Background(), auditor)
		require.NoError(t, err)
		defer coord.Close()
		_, err = coord.Admin.SuspendCertificate(context.Background(), &adminv1.SuspendCertificateRequest{Code: police.Code})
		require.NoError(t, err)
		r := th.call(t, cl, "GET", "/v1/whoami", nil, true)
		require.Equal(t, http.StatusUnauthorized, r.status, "%v", r.body)
		require.Equal(t, server.ReasonCertificateSuspended, r.reason())
		tok, err = server.SignLogin(police.Key, police.Code, th.url, clock())
		require.NoError(t, err)
		require.Equal(t, server.ReasonCertificateSuspended, login(t, tok, "").reason())
		_, err = coord.Admin.ResumeCertificate(context.Background(), &adminv1.ResumeCertificateRequest{Code: police.Code})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, th.call(t, cl, "GET", "/v1/whoami", nil, true).status)
	})
}

func TestInsecureCookieAndPages(t *testing.T) {
	th := startHub(t, func(c *config.Config) { c.Insecure = true })
	id := th.identity(t, 0)
	cl := th.client(t)
	tok, err := server.SignLogin(id.Key, id.Code, th.url, time.Now())
	require.NoError(t, err)
	r := th.call(t, cl, "POST", "/ui/session", loginBody(tok), true)
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	require.False(t, r.resp.Cookies()[0].Secure, "plain HTTP cannot carry a Secure cookie")

	pages := []struct{ path, contains string }{
		{"/ui/", "审计追溯"}, {"/ui/login", "gxctl --identity"}, {"/ui/assets/app.js", "X-Gxhub-UI"}, {"/ui/assets/sm3.js", "verifyInclusion"},
	}
	for _, p := range pages {
		t.Run(p.path, func(t *testing.T) {
			resp, err := cl.Get(th.url + p.path)
			require.NoError(t, err)
			b := readAll(t, resp)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, string(b), p.contains)
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
		})
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(th.url + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/ui/", resp.Header.Get("Location"))
}

func TestSessionAllowed(t *testing.T) {
	cases := []struct {
		method, path string
		ok           bool
	}{
		{"GET", "/v1/whoami", true},
		{"GET", "/v1/audit/records/3/proof", true},
		{"GET", "/v1/departments?page_size=10", true},
		{"GET", "/v1/resources?query=x", true},
		{"GET", "/v1/resources/R1/versions", true},
		{"GET", "/v1/freshness", true},
		{"GET", "/v1/ecert/types", true},
		{"POST", "/v1/verify", true},
		{"POST", "/v1/ecert-presentations:verify", true},
		{"POST", "/v1/audit/records:search", true},
		{"POST", "/v1/audit/subject-usage", true},
		{"POST", "/v1/verify:batch", false},
		{"POST", "/v1/documents/verify", false},
		{"POST", "/v1/departments", false},
		{"POST", "/v1/pulls", false},
		{"POST", "/v1/verifications", true},
		{"POST", "/v1/resources/R1/records:publish", false},
		{"POST", "/v1/requirements/1:decide", false},
		{"POST", "/v1/policy:change", false},
		{"POST", "/v1/ecerts/X:status", false},
		{"DELETE", "/v1/departments/x", false},
		{"PUT", "/v1/resources/R1", false},
		{"GET", "/v1/resources/R1/records/110101199003077777/history", false},
		{"GET", "/v1/pulls/abc", false},
		{"GET", "/v1/auditx", false},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			require.Equal(t, c.ok, server.SessionAllowed(c.method, c.path))
		})
	}
}
