package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
)

// The plumbing every gxhub service shares lives in exchange/rpc (certs/server and
// ledger/server use it too); these are the names this package's services use for it.

// Caller is the verified department behind a request (rpc.Caller).
type Caller = rpc.Caller

// ErrorDomain is the ErrorInfo domain of every gxhub error.
const ErrorDomain = rpc.ErrorDomain

// ReasonOperatorRole refuses an operator whose roles do not cover the operation.
const ReasonOperatorRole = rpc.ReasonOperatorRole

// OperatorMethods says which operator roles may call each RPC (rpc.OperatorMethods).
var OperatorMethods = rpc.OperatorMethods

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context { return rpc.WithCaller(ctx, c) }

// CallerFrom returns the verified caller, if the request was signed.
func CallerFrom(ctx context.Context) (*Caller, bool) { return rpc.CallerFrom(ctx) }

// RequireCaller returns the verified caller or an Unauthenticated error saying how to sign.
func RequireCaller(ctx context.Context) (*Caller, error) { return rpc.RequireCaller(ctx) }

// RequireRole returns the caller if its department holds role.
func RequireRole(ctx context.Context, role exchange.Role) (*Caller, error) {
	return rpc.RequireRole(ctx, role)
}

// OperatorMayCall reports whether an operator holding roles may call the RPC method.
func OperatorMayCall(roles []string, method string) bool { return rpc.OperatorMayCall(roles, method) }

// ToStatus converts err to a gRPC status error (rpc.ToStatus: the one error mapping).
func ToStatus(ctx context.Context, log *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, log, err)
}

// Reason returns the ErrorInfo reason of a status error ("" if none).
func Reason(err error) string { return rpc.Reason(err) }

func authorizeOperator(c *Caller, method string) error { return rpc.AuthorizeOperator(c, method) }

func signatureErr(err error) error { return rpc.SignatureErr(err) }

func auditedWrite(ctx context.Context, w *store.AuditWriter, fn func(ctx context.Context) (ledger.Record, error)) (uint64, error) {
	return rpc.AuditedWrite(ctx, w, fn)
}

func auditedWriteAll(ctx context.Context, w *store.AuditWriter, fn func(ctx context.Context) ([]ledger.Record, error)) ([]uint64, error) {
	return rpc.AuditedWriteAll(ctx, w, fn)
}

func auditRecord(ctx context.Context, w *store.AuditWriter, r ledger.Record) (uint64, error) {
	return rpc.AuditRecord(ctx, w, r)
}

func writeAudited(ctx context.Context, w *store.AuditWriter, now func() time.Time, do func(ctx context.Context) error, rec func() ledger.Record) error {
	return rpc.WriteAudited(ctx, w, now, do, rec)
}

const maxAuditReason = rpc.MaxAuditReason

func clipText(s string, max int) string { return rpc.ClipText(s, max) }
