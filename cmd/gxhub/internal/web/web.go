// Package web serves gxhub's browser pages under /ui/ (REQUIREMENTS E4): approver
// verification of OFD files, seals and e-certificates, the auditor's trace with inclusion
// proofs checked in the browser, the catalogue, the freshness dashboard and the "who used
// my data" view. Assets are embedded (no CDN, no external fonts, nothing fetched at run
// time). Sign-in: `gxctl --identity DIR web` prints a single-use link; the page posts its
// token to /ui/session and the hub sets an HttpOnly session cookie (see docs/WEB.md).
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
)

//go:embed assets
var assets embed.FS

// MaxUploadBytes bounds a file uploaded for verification.
const MaxUploadBytes = 32 << 20

// Options configure the pages.
type Options struct {
	// Auth verifies sign-in tokens against the department registry and nonces.
	Auth *server.Authenticator
	// Sessions is the browser session table (the port server.SessionStore; sqlstore
	// implements it). Required.
	Sessions server.SessionStore
	// Insecure drops the Secure attribute of the session cookie (plain-HTTP local use).
	Insecure bool
	// PublicURL is the hub's base URL as browsers reach it: the audience every sign-in token
	// must name. Empty until SetPublicURL (the hub sets it once it listens); a request's Host
	// header never takes its place, since whoever sends the request chooses it.
	PublicURL string
	Log       *slog.Logger
	Now       func() time.Time
}

// UI is the /ui/ handler.
type UI struct {
	// Sessions authenticates session cookies; pass it to server.HTTPAuthSessions so that
	// the REST API accepts them.
	Sessions *server.Sessions
	opts     Options
	public   atomic.Value // string: the configured public URL
	mux      *http.ServeMux
	static   http.Handler
}

// New builds the pages.
func New(o Options) (*UI, error) {
	if o.Sessions == nil {
		return nil, errors.New("web pages need the browser session table (a SQL store: sqlite or postgres)")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u := &UI{Sessions: &server.Sessions{Auth: o.Auth, Store: o.Sessions}, opts: o, mux: http.NewServeMux(),
		static: http.StripPrefix("/ui/", http.FileServerFS(assets))}
	u.SetPublicURL(o.PublicURL)
	u.mux.HandleFunc("GET /ui/login", u.page("login.html"))
	u.mux.HandleFunc("GET /ui/{$}", u.page("index.html"))
	u.mux.HandleFunc("POST /ui/session", u.login)
	u.mux.HandleFunc("POST /ui/logout", u.logout)
	u.mux.HandleFunc("POST /ui/api/verify", u.verify)
	u.mux.Handle("GET /ui/assets/", u.static)
	u.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	u.mux.ServeHTTP(w, r)
}

// Purge deletes expired sessions (call it periodically, like the nonce purge).
func (u *UI) Purge(ctx context.Context, now time.Time) (int64, error) {
	return u.Sessions.Store.Purge(ctx, now)
}

func (u *UI) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			http.Error(w, "page missing from the build", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
	}
}

// SetPublicURL sets the audience sign-in tokens must name (the hub's public URL).
func (u *UI) SetPublicURL(url string) {
	u.public.Store(server.NormalizeAudience(url))
}

// audience is the configured public URL ("" when none is set yet: every sign-in is refused).
func (u *UI) audience() string {
	s, _ := u.public.Load().(string)
	return s
}

func (u *UI) cookie(value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: server.SessionCookie, Value: value, Path: "/", HttpOnly: true, Secure: !u.opts.Insecure, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(expires.Sub(u.opts.Now()).Seconds()) // the hub's clock, which set expires
	}
	return c
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(server.UIHeader) != "1" {
		server.WriteHTTPError(w, r, u.opts.Log, exchange.Errorf(exchange.KindUnauthenticated, server.ReasonUIHeader, "send the header %s: 1 with the sign-in token", server.UIHeader))
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&in); err != nil || in.Token == "" {
		server.WriteHTTPError(w, r, u.opts.Log, exchange.Errorf(exchange.KindInvalid, server.ReasonLoginInvalid, `the body must be {"token": "<sign-in token>"}`))
		return
	}
	id, dept, exp, err := u.Sessions.Login(r.Context(), in.Token, u.audience())
	if err != nil {
		reason := ""
		var xe *exchange.Error
		if errors.As(err, &xe) {
			reason = xe.Reason
		}
		u.opts.Log.Info("web sign-in refused", slog.String("reason", reason), slog.String("error", err.Error()))
		server.WriteHTTPError(w, r, u.opts.Log, err)
		return
	}
	u.opts.Log.Info("web sign-in", slog.String("department", dept.Code), slog.Time("expires", exp))
	http.SetCookie(w, u.cookie(id, exp))
	writeJSON(w, http.StatusOK, map[string]any{"department": dept.Code, "name": dept.Name, "expires": exp.UTC().Format(time.RFC3339)})
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(server.UIHeader) != "1" {
		server.WriteHTTPError(w, r, u.opts.Log, exchange.Errorf(exchange.KindUnauthenticated, server.ReasonUIHeader, "send the header %s: 1 to sign out", server.UIHeader))
		return
	}
	if c, err := r.Cookie(server.SessionCookie); err == nil {
		if err := u.Sessions.Logout(r.Context(), c.Value); err != nil {
			server.WriteHTTPError(w, r, u.opts.Log, err)
			return
		}
	}
	http.SetCookie(w, u.cookie("", time.Time{}))
	writeJSON(w, http.StatusOK, map[string]any{"signed_out": true})
}

// sessionCaller authenticates a /ui/api call by its session cookie and UI header.
func (u *UI) sessionCaller(r *http.Request) (*server.Caller, error) {
	if r.Header.Get(server.UIHeader) != "1" {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, server.ReasonUIHeader, "send the header %s: 1", server.UIHeader)
	}
	c, err := r.Cookie(server.SessionCookie)
	if err != nil {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, server.ReasonSessionInvalid, "not signed in: create a sign-in link with `gxctl --identity DIR web`")
	}
	return u.Sessions.Caller(r.Context(), c.Value)
}

// verify runs certs/verify over an uploaded OFD, seal (.esl) or SES_Signature, server-side,
// for a signed-in department. It serves the approver page until the hub's certificate
// verification API exists; the page says which one it used.
func (u *UI) verify(w http.ResponseWriter, r *http.Request) {
	caller, err := u.sessionCaller(r)
	if err != nil {
		server.WriteHTTPError(w, r, u.opts.Log, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUploadBytes))
	if err != nil {
		server.WriteHTTPError(w, r, u.opts.Log, exchange.Errorf(exchange.KindInvalid, "BODY_TOO_LARGE", "the file could not be read or exceeds %d MiB: %v", MaxUploadBytes>>20, err))
		return
	}
	if len(body) == 0 {
		server.WriteHTTPError(w, r, u.opts.Log, exchange.Errorf(exchange.KindInvalid, "EMPTY_INPUT", "choose an OFD, seal (.esl) or signature file to verify"))
		return
	}
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	if len(name) > 200 {
		name = name[:200]
	}
	opts := verify.Options{Name: name, Now: u.opts.Now}
	if at := r.URL.Query().Get("at"); at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			server.WriteHTTPError(w, r, u.opts.Log, exchange.Errorf(exchange.KindInvalid, "TIME_INVALID", "at must be RFC 3339, e.g. 2026-11-21T09:00:00+08:00: %v", err))
			return
		}
		opts.At = t
	}
	rep, err := verify.Verify(r.Context(), body, opts)
	if err != nil {
		if errors.Is(err, verify.ErrInput) {
			server.WriteHTTPError(w, r, u.opts.Log, exchange.Wrap(exchange.KindInvalid, "INPUT_UNRECOGNISED", err, "the file is not an OFD package, a seal (.esl) or an SES signature: %v", err))
			return
		}
		server.WriteHTTPError(w, r, u.opts.Log, err)
		return
	}
	u.opts.Log.Info("web verification", slog.String("department", caller.Department.Code), slog.String("input", name), slog.String("verdict", string(rep.Verdict)))
	writeJSON(w, http.StatusOK, rep)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
}
