// Package rpc is what every gxhub service shares, whichever domain it serves (exchange/server,
// certs/server, ledger/server): the verified caller of a request and the roles an operator
// needs for each RPC, the audited-write path every business write goes through, and the one
// mapping of domain errors to gRPC status and REST bodies (clients get the public message
// only). The REST gateway calls the same implementations in process.
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// ErrorDomain is the ErrorInfo domain of every gxhub error.
const ErrorDomain = "gxhub"

var kindCodes = map[exchange.Kind]codes.Code{
	exchange.KindInternal:           codes.Internal,
	exchange.KindInvalid:            codes.InvalidArgument,
	exchange.KindUnauthenticated:    codes.Unauthenticated,
	exchange.KindPermissionDenied:   codes.PermissionDenied,
	exchange.KindNotFound:           codes.NotFound,
	exchange.KindAlreadyExists:      codes.AlreadyExists,
	exchange.KindFailedPrecondition: codes.FailedPrecondition,
	exchange.KindUnavailable:        codes.Unavailable,
	exchange.KindDataLoss:           codes.DataLoss,
}

// ToStatus converts err to a gRPC status error carrying google.rpc.ErrorInfo{Reason,
// Domain: "gxhub"}. Errors without a domain kind are internal: the client gets a generic
// message and the cause is logged.
func ToStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "request canceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "request deadline exceeded")
	}
	var de *exchange.Error
	if !errors.As(err, &de) || de.Kind == exchange.KindInternal {
		if log != nil {
			log.ErrorContext(ctx, "internal error", slog.String("error", err.Error()))
		}
		return withReason(codes.Internal, "INTERNAL", "internal error in the hub; it has been logged — try again, and report it to the hub operator if it persists")
	}
	if de.Err != nil && log != nil && (de.Kind == exchange.KindUnavailable || de.Kind == exchange.KindDataLoss) {
		// The client gets the public message only; the cause is for the operator.
		log.WarnContext(ctx, "request refused", slog.String("reason", de.Reason), slog.String("cause", de.Err.Error()))
	}
	return withReason(kindCodes[de.Kind], de.Reason, de.Msg, de.Meta)
}

func withReason(code codes.Code, reason, msg string, meta ...map[string]string) error {
	st := status.New(code, msg)
	info := &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}
	if len(meta) > 0 {
		info.Metadata = meta[0]
	}
	if withDetails, err := st.WithDetails(info); err == nil {
		st = withDetails
	}
	return st.Err()
}

// Reason returns the ErrorInfo reason of a status error ("" if none).
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// HTTPError is the JSON body of every REST error.
type HTTPError struct {
	Code    int    `json:"code"`   // gRPC code number
	Status  string `json:"status"` // gRPC code name, e.g. UNAUTHENTICATED
	Reason  string `json:"reason"` // stable machine-readable reason
	Message string `json:"message"`
}

// httpStatusByReason gives refusals whose HTTP status is more specific than their gRPC
// code's (a body over the limit is INVALID_ARGUMENT to gRPC, 413 to HTTP clients and
// proxies).
var httpStatusByReason = map[string]int{"BODY_TOO_LARGE": http.StatusRequestEntityTooLarge}

// WriteHTTPError renders err (domain or gRPC status) as JSON with the matching HTTP status.
func WriteHTTPError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	st, _ := status.FromError(ToStatus(r.Context(), log, err))
	body := HTTPError{Code: int(st.Code()), Status: codeName(st.Code()), Reason: Reason(st.Err()), Message: st.Message()}
	w.Header().Set("Content-Type", "application/json")
	if st.Code() == codes.Unauthenticated {
		w.Header().Set("WWW-Authenticate", reqsig.Scheme)
	}
	code := runtime.HTTPStatusFromCode(st.Code())
	if c, ok := httpStatusByReason[body.Reason]; ok {
		code = c
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func codeName(c codes.Code) string {
	s := c.String() // CamelCase, e.g. InvalidArgument
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// LedgerErr maps ledger sentinels to domain errors.
func LedgerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ledger.ErrNotFound):
		return exchange.Wrap(exchange.KindNotFound, "AUDIT_NOT_FOUND", err, "not in the audit log (yet): %v", err)
	case errors.Is(err, ledger.ErrInvalid):
		return exchange.Wrap(exchange.KindInvalid, "AUDIT_QUERY_INVALID", err, "invalid audit query: %v", err)
	case errors.Is(err, ledger.ErrUnavailable):
		return exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err, "the audit log is temporarily unavailable: retry")
	}
	return err
}
