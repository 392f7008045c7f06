package server

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/gxhub/gxhub/ledger"
)

// Audit record kinds of the exchange's business writes beyond those ledger declares.
const (
	KindCatalogChange   ledger.Kind = "catalog.change"   // a resource registered, changed or withdrawn
	KindCatalogProposal ledger.Kind = "catalog.proposal" // a narrowing proposed, approved, rejected or withdrawn
	KindMatterChange    ledger.Kind = "matter.change"    // a matter registered or changed
	KindCase            ledger.Kind = "case"             // a case opened, closed or withdrawn; materials collected
	KindObjection       ledger.Kind = "objection"        // an objection raised, resolved or escalated
)

// Clock is a service's time source (time.Now when nil).
type Clock func() time.Time

func (c Clock) now() time.Time {
	if c != nil {
		return c()
	}
	return time.Now()
}

// Bounds of what a record keeps of a request's words (a refusal quotes what it refuses).
const (
	maxAuditReason = 2048
	maxAuditItems  = 256
)

// clipText cuts s to at most max bytes at a character boundary, marking the cut.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// appendAudit appends the audit record of a business write that is already durable, the way
// the requirement decisions and publishes are recorded: a failed append is an operator alarm
// (logged), not a failure of the request. It returns the record's index (0 and false when
// the append failed or there is no log). Every business write of the exchange goes through
// here, so that it can be moved into the write's own transaction in one place.
func appendAudit(ctx context.Context, log ledger.Log, l *slog.Logger, r ledger.Record) (uint64, bool) {
	if log == nil {
		return 0, false
	}
	r.Reason = clipText(r.Reason, maxAuditReason)
	if len(r.DataItems) > maxAuditItems {
		r.DataItems = r.DataItems[:maxAuditItems]
	}
	idx, err := log.Append(ctx, r)
	if err != nil {
		if l != nil {
			l.ErrorContext(ctx, "audit append failed", slog.String("kind", string(r.Kind)), slog.String("request", r.RequestID), slog.String("error", err.Error()))
		}
		return 0, false
	}
	return idx, true
}
