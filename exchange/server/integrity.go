package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/integrity"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
)

// Voucher is the hub's exchange.RecordVoucher: it recomputes a stored version's digest and
// checks it against the publish audit record of its batch (read from the log, which proves
// the record against its tree). Verified publish records are remembered per batch.
type Voucher struct {
	Store store.Store
	Log   ledger.Log
	// Index, if set, finds the publish record of a batch whose link was never kept (the
	// hub stopped between the publish's audited write and keeping its record's index; the
	// record was appended from the outbox at the next start): the link is then kept, and
	// the record is still checked against the log like any other.
	Index store.AuditIndex
	Alarm *slog.Logger
	// Failed is called once per refused record (the metric gxhub_data_integrity_failures_total).
	Failed func()

	mu    sync.Mutex
	known map[string]publishVouch
}

type publishVouch struct {
	index          uint64
	evidenceDigest []byte
	digest         []byte
}

const maxKnownBatches = 100000

// Vouch implements exchange.RecordVoucher.
func (v *Voucher) Vouch(ctx context.Context, r *exchange.Record, items []string) (*exchange.Vouch, error) {
	pv, err := v.publish(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(r.Seal.Salt) == 0 {
		return nil, v.fail(ctx, r, pv.index, errors.New("the stored version has no seal"))
	}
	cs := integrity.Commitments(r.Seal.Salt, r.Fields)
	root, err := verify.RootFromPath(r.Seal.Position, r.Seal.BatchSize, integrity.VersionDigest(r.Resource, r.Batch, r.Subject, r.Deleted, cs), r.Seal.Path)
	if err != nil {
		return nil, v.fail(ctx, r, pv.index, err)
	}
	if !bytes.Equal(integrity.PublishDigest(pv.evidenceDigest, root), pv.digest) {
		return nil, v.fail(ctx, r, pv.index, errors.New("its digest, recomputed from the stored data, is not the one its publish record carries"))
	}
	out := &exchange.Vouch{PublishRecord: pv.index, EvidenceDigest: pv.evidenceDigest, Position: r.Seal.Position, BatchSize: r.Seal.BatchSize,
		Path: r.Seal.Path, Salts: map[string][]byte{}, Withheld: map[string][]byte{}}
	for n := range r.Fields {
		if slices.Contains(items, n) {
			out.Salts[n] = integrity.ItemSalt(r.Seal.Salt, n)
		} else {
			out.Withheld[n] = cs[n]
		}
	}
	return out, nil
}

// publish returns the verified publish record of r's batch.
func (v *Voucher) publish(ctx context.Context, r *exchange.Record) (publishVouch, error) {
	v.mu.Lock()
	pv, ok := v.known[r.Batch]
	v.mu.Unlock()
	if ok {
		return pv, nil
	}
	b, err := v.Store.Records().Batch(ctx, r.Batch)
	if exchange.KindOf(err) == exchange.KindNotFound {
		return pv, v.fail(ctx, r, 0, fmt.Errorf("its batch %s is not stored", r.Batch))
	}
	if err != nil {
		return pv, err
	}
	if b.PublishRecord == nil {
		if i, ok := v.findPublishRecord(ctx, b); ok {
			b.PublishRecord = &i
		}
	}
	if b.PublishRecord == nil {
		return pv, exchange.Errorf(exchange.KindUnavailable, "RECORD_NOT_VOUCHED",
			"a record of %s (version %d) is not vouched for yet: the publish record of batch %s is not in the audit log; retry shortly, and report it to the hub operator if it persists", r.Resource, r.Version, r.Batch)
	}
	e, err := v.Log.GetRecord(ctx, *b.PublishRecord)
	if errors.Is(err, ledger.ErrVerification) || errors.Is(err, ledger.ErrNotFound) {
		return pv, v.fail(ctx, r, *b.PublishRecord, fmt.Errorf("its publish record cannot be read from the log: %w", err))
	}
	if err != nil {
		return pv, rpc.LedgerErr(err)
	}
	if err := integrity.CheckPublishRecord(e.Record, r.Resource, r.PublishedBy, r.Batch, e.Record.ResponseDigest); err != nil || b.Provider != r.PublishedBy {
		if err == nil {
			err = fmt.Errorf("batch %s was published by %s, the record says %s", b.ID, b.Provider, r.PublishedBy)
		}
		return pv, v.fail(ctx, r, *b.PublishRecord, err)
	}
	pv = publishVouch{index: *b.PublishRecord, evidenceDigest: integrity.EvidenceDigest(b.Evidence), digest: e.Record.ResponseDigest}
	v.mu.Lock()
	if v.known == nil || len(v.known) >= maxKnownBatches {
		v.known = map[string]publishVouch{}
	}
	v.known[r.Batch] = pv
	v.mu.Unlock()
	return pv, nil
}

// findPublishRecord looks a batch's publish record up in the audit index (by kind,
// resource, provider, time and batch id) and keeps the link; false when there is no index
// or no such record yet.
func (v *Voucher) findPublishRecord(ctx context.Context, b *exchange.Batch) (uint64, bool) {
	if v.Index == nil {
		return 0, false
	}
	q := store.AuditQuery{Kind: ledger.KindPublish, Resource: b.Resource, Department: b.Provider, From: b.At.Add(-time.Second), To: b.At.Add(time.Second)}
	es, err := v.Index.Search(ctx, q, 0, 1000)
	if err != nil {
		return 0, false
	}
	for _, e := range es {
		if e.Record.RequestID != b.ID {
			continue
		}
		if err := v.Store.Records().SetPublishRecord(ctx, b.ID, e.Index); err != nil && v.Alarm != nil {
			v.Alarm.WarnContext(ctx, "keeping a batch's publish record failed", slog.String("batch", b.ID), slog.Uint64("record", e.Index), slog.String("error", err.Error()))
		}
		return e.Index, true
	}
	return 0, false
}

func (v *Voucher) fail(ctx context.Context, r *exchange.Record, publish uint64, cause error) error {
	if v.Failed != nil {
		v.Failed()
	}
	if v.Alarm != nil {
		v.Alarm.ErrorContext(ctx, "stored record does not match what its provider published: tampered or corrupted; not served",
			slog.String("resource", r.Resource), slog.Int64("version", r.Version), slog.String("batch", r.Batch), slog.Uint64("publish_record", publish), slog.String("error", cause.Error()))
	}
	return exchange.Errorf(exchange.KindDataLoss, exchange.ReasonDataIntegrity,
		"a stored record of %s (version %d, batch %s) does not match what its provider published (publish audit record %d): %v. Nothing was served; the hub operator has been alerted — ask the provider to re-publish the record",
		r.Resource, r.Version, r.Batch, publish, cause)
}
