package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
)

// IntentLog is the audit log as the AuditWriter uses it (ledger/log's Log).
type IntentLog interface {
	Append(ctx context.Context, r ledger.Record) (uint64, error)
	AppendIntents(ctx context.Context, recs []ledger.Record, intents []uint64) ([]uint64, error)
}

// AuditWriter is the one path of every audited business write: Write runs the write and
// its sealed audit intent in one transaction (Outbox.Audited), then appends the intent's
// record to the log, marking the intent done in the same storage write, and acknowledges
// only then. Drain appends the intents a crash (or an unavailable log) left pending:
// before the hub serves, and in the background for intents older than Grace.
//
// Seal: each intent carries HMAC(Key, log, id, record) with Hash (SM3 in the hub). An
// insider who edits a pending intent in the database (its record, or copies it under a
// new id) without the key makes it fail verification: Drain does not append it and
// reports it (Tampered counts them). The seal does not cover deleting a pending intent;
// the committed-rows check (gxctl's crash test) matches business rows to records.
type AuditWriter struct {
	Outbox Outbox
	Log    IntentLog
	LogID  string
	// Key and Hash make the intents' seals; Key is the hub's outbox key (every replica
	// sharing the database uses the same).
	Key  []byte
	Hash func() hash.Hash
	// Grace is how old a pending intent must be before the background Drain appends it
	// (the writer that made it appends it itself unless the log is unavailable).
	// Default 5s.
	Grace  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
	// Attribute, if set, completes each record of a write from the request's context
	// before its intent is sealed (the hub binds it to the requester and keeps the signed
	// request as evidence, in the write's transaction): the log's own Attribute applies
	// to direct appends only.
	Attribute func(ctx context.Context, r *ledger.Record) error

	tampered atomic.Int64
}

// ErrAuditPending reports a business write that committed while its audit record could
// not be appended yet: the record is kept in the outbox and appended when the log is
// available; the write is not acknowledged.
var ErrAuditPending = errors.New("audit record pending")

func (w *AuditWriter) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *AuditWriter) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// seal returns the MAC of an intent.
func (w *AuditWriter) seal(log, id string, leaf []byte) []byte {
	m := hmac.New(w.Hash, w.Key)
	m.Write([]byte("gxhub audit intent v1\n" + log + "\n" + id + "\n" + strconv.Itoa(len(leaf)) + "\n"))
	m.Write(leaf)
	return m.Sum(nil)
}

// SealFor returns the seal of in (its Log, ID and Leaf).
func (w *AuditWriter) SealFor(in Intent) []byte { return w.seal(in.Log, in.ID, in.Leaf) }

// Verify reports whether in carries a valid seal.
func (w *AuditWriter) Verify(in Intent) bool {
	return hmac.Equal(in.MAC, w.seal(in.Log, in.ID, in.Leaf))
}

// Tampered returns how many pending intents failed their seal since start.
func (w *AuditWriter) Tampered() int64 { return w.tampered.Load() }

// Write runs fn — the business write, which MUST do its writes with the context it is
// given, and returns the write's audit record — in one transaction with the record's
// sealed intent, then appends the record to the log and returns its index. When fn fails
// nothing is written. When the write committed but the record could not be appended, the
// error wraps ErrAuditPending (the record follows as soon as the log can take it).
func (w *AuditWriter) Write(ctx context.Context, fn func(ctx context.Context) (ledger.Record, error)) (uint64, error) {
	idx, err := w.WriteAll(ctx, func(ctx context.Context) ([]ledger.Record, error) {
		r, err := fn(ctx)
		return []ledger.Record{r}, err
	})
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// WriteAll is Write for a business write with several audit records (a requirement filed
// with the decisions taken at filing): all commit with the write, all are appended, in
// order.
func (w *AuditWriter) WriteAll(ctx context.Context, fn func(ctx context.Context) ([]ledger.Record, error)) ([]uint64, error) {
	if w == nil || w.Outbox == nil || w.Log == nil || len(w.Key) == 0 || w.Hash == nil {
		return nil, errors.New("audited write: no audit writer configured (outbox, log, key)")
	}
	var recs []ledger.Record
	seqs, err := w.Outbox.Audited(ctx, func(ctx context.Context) ([]Intent, error) {
		rs, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		recs = rs
		ins := make([]Intent, len(rs))
		for i := range rs {
			if w.Attribute != nil {
				if err := w.Attribute(ctx, &rs[i]); err != nil {
					return nil, fmt.Errorf("audited write: %w", err)
				}
			}
			leaf, err := rs[i].MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("audited write: the audit record is invalid: %w", err)
			}
			var nonce [16]byte
			if _, err := rand.Read(nonce[:]); err != nil {
				return nil, err
			}
			id := hex.EncodeToString(nonce[:])
			ins[i] = Intent{Log: w.LogID, ID: id, Leaf: leaf, MAC: w.seal(w.LogID, id, leaf), CreatedAt: w.now()}
		}
		return ins, nil
	})
	if err != nil {
		return nil, err
	}
	// The write is durable; a request that gives up now must not stop its record (nor
	// would it: the intent is kept and drained).
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	idx, err := w.Log.AppendIntents(actx, recs, seqs)
	if err == nil {
		return idx, nil
	}
	if errors.Is(err, ledger.ErrIntentDone) {
		// A drain appended them first.
		out := make([]uint64, len(seqs))
		done := true
		for i, seq := range seqs {
			in, gerr := w.Outbox.Get(actx, seq)
			done = done && gerr == nil && in.Done
			out[i] = in.Index
		}
		if done {
			return out, nil
		}
	}
	w.logger().ErrorContext(ctx, "audit record of a committed write is pending", slog.Any("intents", seqs), slog.String("kind", string(recs[0].Kind)), slog.String("error", err.Error()))
	return nil, exchange.Wrap(exchange.KindUnavailable, "AUDIT_PENDING", fmt.Errorf("%w: %w", ErrAuditPending, err),
		"the write was committed but its audit record (intent %d) is not in the audit log yet: it is appended as soon as the log is available; retry the request to see its result", seqs[0])
}

// Record appends the audit record of something that writes no business row — a read of
// personal data, a refusal — and returns its index. The caller answers only after it
// returned nil: what could not be audited is not served.
func (w *AuditWriter) Record(ctx context.Context, r ledger.Record) (uint64, error) {
	if w == nil || w.Log == nil {
		return 0, errors.New("audit: no audit log configured")
	}
	idx, err := w.Log.Append(ctx, r)
	if err != nil {
		w.logger().ErrorContext(ctx, "audit append failed", slog.String("kind", string(r.Kind)), slog.String("error", err.Error()))
		return 0, exchange.Wrap(exchange.KindUnavailable, "AUDIT_UNAVAILABLE", err,
			"the audit log cannot take the record of this request right now, so it was not served: retry shortly")
	}
	return idx, nil
}

// drainPage bounds one read of the outbox.
const drainPage = 256

// Drain appends every pending intent of the log created at least minAge ago, in order,
// and returns how many it appended. An intent whose seal does not verify is not appended:
// it is logged and counted (Tampered), and stays pending for an operator to look at.
func (w *AuditWriter) Drain(ctx context.Context, minAge time.Duration) (int, error) {
	appended := 0
	var after uint64
	cutoff := w.now().Add(-minAge)
	for {
		page, err := w.Outbox.Pending(ctx, w.LogID, after, drainPage)
		if err != nil {
			return appended, err
		}
		var (
			recs []ledger.Record
			seqs []uint64
		)
		for _, in := range page {
			after = in.Seq
			if in.CreatedAt.After(cutoff) {
				continue
			}
			if !w.Verify(in) {
				w.tampered.Add(1)
				w.logger().ErrorContext(ctx, "audit intent fails its seal: it was changed in the database; not appended",
					slog.Uint64("intent", in.Seq), slog.String("id", in.ID))
				continue
			}
			var r ledger.Record
			if err := r.UnmarshalBinary(in.Leaf); err != nil {
				w.logger().ErrorContext(ctx, "audit intent does not decode; not appended", slog.Uint64("intent", in.Seq), slog.String("error", err.Error()))
				continue
			}
			if again, err := r.MarshalBinary(); err != nil || !bytes.Equal(again, in.Leaf) {
				w.logger().ErrorContext(ctx, "audit intent is not in canonical form; not appended", slog.Uint64("intent", in.Seq))
				continue
			}
			recs, seqs = append(recs, r), append(seqs, in.Seq)
		}
		if len(recs) > 0 {
			_, err := w.Log.AppendIntents(ctx, recs, seqs)
			if err != nil && !errors.Is(err, ledger.ErrIntentDone) {
				return appended, fmt.Errorf("drain the audit outbox: %w", err)
			}
			if err == nil {
				appended += len(recs)
			}
		}
		if len(page) < drainPage {
			return appended, nil
		}
	}
}

// Run drains intents older than Grace every interval until ctx is done.
func (w *AuditWriter) Run(ctx context.Context, interval time.Duration) {
	grace := w.Grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := w.Drain(ctx, grace); err != nil && ctx.Err() == nil {
				w.logger().ErrorContext(ctx, "draining the audit outbox failed; will retry", slog.String("error", err.Error()))
			} else if n > 0 {
				w.logger().WarnContext(ctx, "appended audit records of writes their writer could not append", slog.Int("records", n))
			}
		}
	}
}
