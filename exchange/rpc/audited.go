package rpc

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
)

const (
	MaxAuditReason = 2048 // bytes of a record's reason
	maxAuditItems  = 256
)

// ClipText cuts s to at most max bytes at a character boundary, marking the cut.
func ClipText(s string, max int) string {
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
	r.Reason = ClipText(r.Reason, MaxAuditReason)
	if len(r.DataItems) > maxAuditItems {
		r.DataItems = r.DataItems[:maxAuditItems]
	}
	return r
}

// AuditedWrite is the one path of every business write of the exchange: fn does the
// write with the context it is given and returns the write's audit record; the write and
// the record's intent commit in one transaction (store.Outbox), and the request is
// acknowledged only once the record is in the log. It returns the record's index.
func AuditedWrite(ctx context.Context, w *store.AuditWriter, fn func(ctx context.Context) (ledger.Record, error)) (uint64, error) {
	return w.Write(ctx, func(ctx context.Context) (ledger.Record, error) {
		r, err := fn(ctx)
		return clipRecord(r), err
	})
}

// AuditedWriteAll is AuditedWrite for a write with several records.
func AuditedWriteAll(ctx context.Context, w *store.AuditWriter, fn func(ctx context.Context) ([]ledger.Record, error)) ([]uint64, error) {
	return w.WriteAll(ctx, func(ctx context.Context) ([]ledger.Record, error) {
		rs, err := fn(ctx)
		for i := range rs {
			rs[i] = clipRecord(rs[i])
		}
		return rs, err
	})
}

// AuditRecord appends the record of a request that writes no business row (a read of
// personal data, a refusal); the caller answers only when it returned nil.
func AuditRecord(ctx context.Context, w *store.AuditWriter, r ledger.Record) (uint64, error) {
	return w.Record(ctx, clipRecord(r))
}

// WriteAudited is AuditedWrite for a write whose record is built after it (it names
// what the write assigned); a record without a time is timed now().
func WriteAudited(ctx context.Context, w *store.AuditWriter, now func() time.Time, do func(ctx context.Context) error, rec func() ledger.Record) error {
	_, err := AuditedWrite(ctx, w, func(ctx context.Context) (ledger.Record, error) {
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

// Clock is a service's time source (time.Now when nil).
type Clock func() time.Time

// Time is the clock's time.
func (c Clock) Time() time.Time {
	if c != nil {
		return c()
	}
	return time.Now()
}
