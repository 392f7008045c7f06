package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/ledger"
)

// KindAuditTampered is the audit kind of the hub's own report that a stored audit record no
// longer matches the log's tree (appended once per record found).
const KindAuditTampered ledger.Kind = "audit.tampered"

// Tampering collects the audit records found not to match the log's tree, wherever they
// were read (GetRecord, inclusion proofs, searches): /readyz lists them, the metric
// gxhub_audit_tampered_records counts them, and the first finding of each is logged as an
// error and appended to the log itself. The zero value is ready to use.
type Tampering struct {
	// Log receives the alarm; Audit the record of the finding (both optional).
	Log   *slog.Logger
	Audit ledger.Log
	Now   rpc.Clock

	mu    sync.Mutex
	found map[uint64]string
}

// Report records that the audit record at index failed verification (cause says how) and
// returns the error the caller answers with: DATA_LOSS, reason AUDIT_RECORD_TAMPERED.
func (t *Tampering) Report(ctx context.Context, index uint64, cause error) error {
	if t != nil {
		t.report(ctx, index, cause)
	}
	return exchange.Errorf(exchange.KindDataLoss, "AUDIT_RECORD_TAMPERED",
		"audit record %d does not match the audit log's tree: it was altered in the hub's database after it was logged. The hub operator has been alerted; auditors: compare it with an anchored receipt (gxctl audit verify) and do not rely on its stored contents", index)
}

func (t *Tampering) report(ctx context.Context, index uint64, cause error) {
	t.mu.Lock()
	if t.found == nil {
		t.found = map[uint64]string{}
	}
	_, seen := t.found[index]
	if !seen {
		t.found[index] = cause.Error()
	}
	t.mu.Unlock()
	if !seen {
		if t.Log != nil {
			t.Log.ErrorContext(ctx, "audit record does not match the log's tree: tampered or corrupted", slog.Uint64("index", index), slog.String("error", cause.Error()))
		}
		if t.Audit != nil {
			// A fresh context: the finding is recorded even if the reader went away.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, err := t.Audit.Append(actx, ledger.Record{Kind: KindAuditTampered, Time: t.Now.Time().UTC(), Department: exchange.SystemActor,
				Resource: fmt.Sprintf("audit-record:%d", index), Outcome: ledger.OutcomeFailed, Reason: rpc.ClipText(cause.Error(), rpc.MaxAuditReason)})
			cancel()
			if err != nil && t.Log != nil {
				t.Log.ErrorContext(ctx, "audit append failed for a tampering finding", slog.Uint64("index", index), slog.String("error", err.Error()))
			}
		}
	}
}

// Indices returns the tampered records found so far, in index order.
func (t *Tampering) Indices() []uint64 {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]uint64, 0, len(t.found))
	for i := range t.found {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// Count is how many tampered records were found (the metric).
func (t *Tampering) Count() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.found)
}

// Readiness is the /readyz line about the audit log's integrity ("" when nothing was found).
func (t *Tampering) Readiness() string {
	idx := t.Indices()
	if len(idx) == 0 {
		return ""
	}
	const show = 20
	more := ""
	if len(idx) > show {
		more = fmt.Sprintf(" and %d more", len(idx)-show)
		idx = idx[:show]
	}
	return fmt.Sprintf("audit log: TAMPERED: %d record(s) do not match the log's tree: %v%s (gxhub_audit_tampered_records; see the hub log)\n", t.Count(), idx, more)
}

// verified maps a ledger verification failure of the record at index to the tampering
// report; other errors as ledgerErr does.
func (a *Audit) verified(ctx context.Context, index uint64, err error) error {
	if err != nil && errors.Is(err, ledger.ErrVerification) {
		return a.Tampering.Report(ctx, index, err)
	}
	return rpc.LedgerErr(err)
}

// tampered checks search results against the log's leaf hashes and reports those that do not
// match.
func (a *Audit) tampered(ctx context.Context, entries []ledger.Entry) (map[uint64]bool, error) {
	lc, ok := a.Log.(LeafChecker)
	if !ok || len(entries) == 0 {
		return nil, nil
	}
	bad, err := lc.CheckLeaves(ctx, entries)
	if err != nil {
		return nil, rpc.LedgerErr(err)
	}
	out := make(map[uint64]bool, len(bad))
	for _, i := range bad {
		_ = a.Tampering.Report(ctx, i, &ledger.ProofError{Kind: "leaf", Index: i, Err: errors.New("stored record does not match its stored leaf hash")})
		out[i] = true
	}
	return out, nil
}
