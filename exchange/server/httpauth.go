package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// MaxBodyBytes bounds a REST request body.
const MaxBodyBytes = 8 << 20

// IsPublicREST reports whether a REST call may be made without a signature. It mirrors
// PublicMethods (a test checks both against the OpenAPI document).
func IsPublicREST(method, path string) bool {
	if method != http.MethodGet {
		return false
	}
	switch path {
	case "/v1/trust", "/v1/audit/log", "/v1/audit/head", "/v1/audit/consistency", "/v1/audit/anchors":
		return true
	}
	return strings.HasPrefix(path, "/v1/calendar/") || strings.HasPrefix(path, "/v1/calendar:")
}

// HTTPAuth authenticates REST calls under /v1/: it reads the body (bounded), verifies the
// signature over method, path with query and the body's SM3 digest, and passes the caller
// in the context. Unsigned calls reach only public paths.
func HTTPAuth(a *Authenticator, log *slog.Logger, next http.Handler) http.Handler {
	return HTTPAuthSessions(a, nil, log, next)
}

// HTTPAuthSessions is HTTPAuth that also accepts a browser session (cookie SessionCookie
// plus header UIHeader: 1) instead of a signature, for the calls SessionAllowed lists
// (docs/WEB.md). sessions may be nil.
func HTTPAuthSessions(a *Authenticator, sessions *Sessions, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get(reqsig.HeaderName)
		if header == "" && IsPublicREST(r.Method, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if header == "" && sessions != nil {
			if ck, err := r.Cookie(SessionCookie); err == nil {
				c, err := sessionCaller(r, sessions, ck.Value)
				if err != nil {
					WriteHTTPError(w, r, log, err)
					return
				}
				ctx := context.WithValue(WithCaller(r.Context(), c), sessionKey{}, true)
				r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				WriteHTTPError(w, r, log, exchange.Errorf(exchange.KindInvalid, "BODY_TOO_LARGE", "request body exceeds %d bytes: split the batch", MaxBodyBytes))
				return
			}
			WriteHTTPError(w, r, log, exchange.Errorf(exchange.KindInvalid, "BODY_UNREADABLE", "request body could not be read: %v", err))
			return
		}
		pinned, err := a.Snapshots.Pin(r.Context())
		if err != nil {
			WriteHTTPError(w, r, log, err)
			return
		}
		c, err := a.Authenticate(pinned, header, r.Method, r.URL.RequestURI(), reqsig.BodyDigest(body))
		if err != nil {
			WriteHTTPError(w, r, log, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r.WithContext(WithCaller(pinned, c)))
	})
}

func sessionCaller(r *http.Request, sessions *Sessions, id string) (*Caller, error) {
	if r.Header.Get(UIHeader) != "1" {
		return nil, exchange.Errorf(exchange.KindUnauthenticated, ReasonUIHeader,
			"a call with the browser session cookie must send the header %s: 1 (protection against cross-site requests); other clients sign each request instead", UIHeader)
	}
	if !SessionAllowed(r.Method, r.URL.Path) {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, ReasonSessionScope,
			"%s %s cannot be made with a browser session: it must be signed by the department's key (gxctl, the SDK, or `gxctl sign-request`) so that it cannot be denied", r.Method, r.URL.Path)
	}
	return sessions.Caller(r.Context(), id)
}

// HTTPError is the JSON body of every REST error (rpc.HTTPError).
type HTTPError = rpc.HTTPError

// WriteHTTPError renders err (domain or gRPC status) as JSON with the matching HTTP status
// (rpc.WriteHTTPError: the one error mapping).
func WriteHTTPError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	rpc.WriteHTTPError(w, r, log, err)
}

// ReasonRequestMalformed is the refusal of a REST request whose JSON body or path and
// query values do not decode into the operation's request message.
const ReasonRequestMalformed = "REQUEST_MALFORMED"

// GatewayErrorHandler renders gateway errors (from handlers, routing, decoding) with
// WriteHTTPError. Decoding errors (a bare InvalidArgument status from the gateway, without
// a reason) get ReasonRequestMalformed and a message saying what to send.
func GatewayErrorHandler(log *slog.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && Reason(err) == "" {
			err = exchange.Errorf(exchange.KindInvalid, ReasonRequestMalformed,
				"the request to %s %s could not be decoded: %s: send JSON as /openapi.json describes (field names as documented, enum values by name, bytes in base64, no unknown fields)",
				r.Method, r.URL.Path, st.Message())
		}
		WriteHTTPError(w, r.WithContext(ctx), log, err)
	}
}
