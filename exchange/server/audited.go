package server

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
)

// Audit record kinds of the exchange's business writes beyond those ledger declares.
const (
	KindCatalogChange   ledger.Kind = "catalog.change"      // a resource registered, changed or withdrawn
	KindCatalogProposal ledger.Kind = "catalog.proposal"    // a narrowing proposed, approved, rejected or withdrawn
	KindMatterChange    ledger.Kind = "matter.change"       // a matter registered or changed
	KindCase            ledger.Kind = "case"                // a case opened, closed or withdrawn; materials collected
	KindObjection       ledger.Kind = "objection"           // an objection raised, resolved or escalated
	KindRecordHistory   ledger.Kind = "record.history"      // a provider read every version of a subject's record
	KindHeartbeat       ledger.Kind = "freshness.heartbeat" // a provider declared a resource live
	KindExemptionLookup ledger.Kind = "matter.exemptions"   // what the hub knows of an applicant for a matter
	KindAuditSearch     ledger.Kind = "audit.search"        // an auditor searched the records of one subject
)

// errNothingWritten ends an audited write whose store call found nothing to change (a
// state already reached): nothing commits, and no record is made.
var errNothingWritten = errors.New("nothing written")

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

func clipRecord(r ledger.Record) ledger.Record {
	r.Reason = clipText(r.Reason, maxAuditReason)
	if len(r.DataItems) > maxAuditItems {
		r.DataItems = r.DataItems[:maxAuditItems]
	}
	return r
}

// auditedWrite is the one path of every business write of the exchange: fn does the
// write with the context it is given and returns the write's audit record; the write and
// the record's intent commit in one transaction (store.Outbox), and the request is
// acknowledged only once the record is in the log. It returns the record's index.
func auditedWrite(ctx context.Context, w *store.AuditWriter, fn func(ctx context.Context) (ledger.Record, error)) (uint64, error) {
	return w.Write(ctx, func(ctx context.Context) (ledger.Record, error) {
		r, err := fn(ctx)
		return clipRecord(r), err
	})
}

// auditedWriteAll is auditedWrite for a write with several records.
func auditedWriteAll(ctx context.Context, w *store.AuditWriter, fn func(ctx context.Context) ([]ledger.Record, error)) ([]uint64, error) {
	return w.WriteAll(ctx, func(ctx context.Context) ([]ledger.Record, error) {
		rs, err := fn(ctx)
		for i := range rs {
			rs[i] = clipRecord(rs[i])
		}
		return rs, err
	})
}

// auditRecord appends the record of a request that writes no business row (a read of
// personal data, a refusal); the caller answers only when it returned nil.
func auditRecord(ctx context.Context, w *store.AuditWriter, r ledger.Record) (uint64, error) {
	return w.Record(ctx, clipRecord(r))
}

// writeAudited is auditedWrite for a write whose record is built after it (it names
// what the write assigned); a record without a time is timed now().
func writeAudited(ctx context.Context, w *store.AuditWriter, now func() time.Time, do func(ctx context.Context) error, rec func() ledger.Record) error {
	_, err := auditedWrite(ctx, w, func(ctx context.Context) (ledger.Record, error) {
		if err := do(ctx); err != nil {
			return ledger.Record{}, err
		}
		r := rec()
		if r.Time.IsZero() {
			r.Time = now()
		}
		return r, nil
	})
	return err
}
