// Package server implements gxhub's gRPC services (exchange, certs, admin) over the domain
// packages, authenticates signed requests, and maps domain errors to gRPC status once, here.
// The REST gateway calls the same implementations in process.
package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/exchange"
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
