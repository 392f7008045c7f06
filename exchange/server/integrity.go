package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
)

// Record integrity (docs/AUDIT.md, "Record integrity"): every published record version is
// committed to the audit log by its batch's publish record, so that a record altered in the
// database is refused at pull time and a consumer's data can be checked offline against what
// the provider published. All digests are SM3; lp(x) is uvarint(len(x)) ‖ x.
//
//	item salt         SM3("gxhub/item-salt/v1" 0x00 ‖ salt ‖ lp(name))       salt: 32 random bytes per version
//	item commitment   SM3("gxhub/item/v1" 0x00 ‖ item salt ‖ lp(name) ‖ lp(value))
//	version digest    SM3("gxhub/record/v1" 0x00 ‖ lp(resource) ‖ lp(batch) ‖ lp(subject) ‖ deleted (1 byte) ‖
//	                      uvarint(n) ‖ (lp(name) ‖ commitment) for each item in byte order of the names)
//	batch root        RFC 6962 Merkle root (SM3, as the audit log) of the version digests, in the batch's order
//	publish digest    SM3("gxhub/publish/v1" 0x00 ‖ SM3(provider's signed request) ‖ batch root)
//
// The publish digest is the response digest of the batch's publish audit record. Salted
// commitments let a consumer be given only its approved items: the others appear as
// commitments, which reveal nothing of their values.
const (
	itemSaltTag   = "gxhub/item-salt/v1\x00"
	itemTag       = "gxhub/item/v1\x00"
	recordTag     = "gxhub/record/v1\x00"
	publishTag    = "gxhub/publish/v1\x00"
	recordSaltLen = 32
)

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func sm3(parts ...[]byte) []byte {
	d := sm.Sum(bytes.Join(parts, nil))
	return d[:]
}

// ItemSalt is the salt of one data item of a record version.
func ItemSalt(salt []byte, name string) []byte {
	return sm3([]byte(itemSaltTag), salt, appendLP(nil, name))
}

// ItemCommitment commits to one data item's value under its item salt.
func ItemCommitment(itemSalt []byte, name, value string) []byte {
	return sm3([]byte(itemTag), itemSalt, appendLP(appendLP(nil, name), value))
}

// VersionDigest is a record version's digest over its items' commitments.
func VersionDigest(resource, batch, subject string, deleted bool, commitments map[string][]byte) []byte {
	b := []byte(recordTag)
	b = appendLP(appendLP(appendLP(b, resource), batch), subject)
	if deleted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	names := make([]string, 0, len(commitments))
	for n := range commitments {
		names = append(names, n)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = append(appendLP(b, n), commitments[n]...)
	}
	return sm3(b)
}

// PublishDigest is the response digest of a batch's publish audit record.
func PublishDigest(evidenceDigest, batchRoot []byte) []byte {
	return sm3([]byte(publishTag), evidenceDigest, batchRoot)
}

// EvidenceDigest is the SM3 of a batch's evidence (the provider's signed request).
func EvidenceDigest(evidence string) []byte { return sm3([]byte(evidence)) }

func commitments(salt []byte, fields map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(fields))
	for n, v := range fields {
		out[n] = ItemCommitment(ItemSalt(salt, n), n, v)
	}
	return out
}

// SealBatch draws each change's salt, computes the version digests and sets every change's
// Seal (position, batch size, path); it returns the batch root.
func SealBatch(b *exchange.Batch) ([]byte, error) {
	digests := make([][]byte, len(b.Changes))
	for i := range b.Changes {
		c := &b.Changes[i]
		salt := make([]byte, recordSaltLen)
		if _, err := rand.Read(salt); err != nil {
			return nil, fmt.Errorf("draw a record salt: %w", err)
		}
		c.Seal = exchange.RecordSeal{Salt: salt, Position: uint64(i), BatchSize: uint64(len(b.Changes))}
		digests[i] = VersionDigest(b.Resource, b.ID, c.Subject, c.Op == exchange.OpDelete, commitments(salt, c.Fields))
	}
	root, paths := verify.Tree(digests)
	for i := range b.Changes {
		b.Changes[i].Seal.Path = paths[i]
	}
	return root, nil
}

// PublishedDigest recomputes, from a served record version and its vouch, the publish
// digest the version's publish audit record must carry. fields are the items served (each
// with a salt in v.Salts); every other item of the version is in v.Withheld.
func PublishedDigest(resource, subject string, deleted bool, fields map[string]string, v *exchange.Vouch, batch string) ([]byte, error) {
	if v == nil {
		return nil, errors.New("no vouch: nothing ties this record to a publish record")
	}
	cs := make(map[string][]byte, len(fields)+len(v.Withheld))
	for n, val := range fields {
		s, ok := v.Salts[n]
		if !ok {
			return nil, fmt.Errorf("item %s has no salt in the vouch", n)
		}
		cs[n] = ItemCommitment(s, n, val)
	}
	for n, c := range v.Withheld {
		if _, dup := cs[n]; dup {
			return nil, fmt.Errorf("item %s is both served and withheld", n)
		}
		cs[n] = c
	}
	root, err := verify.RootFromPath(v.Position, v.BatchSize, VersionDigest(resource, batch, subject, deleted, cs), v.Path)
	if err != nil {
		return nil, err
	}
	return PublishDigest(v.EvidenceDigest, root), nil
}

// CheckPublishRecord checks that rec is the publish record of batch (of resource, by
// provider) and that it carries digest.
func CheckPublishRecord(rec ledger.Record, resource, provider, batch string, digest []byte) error {
	switch {
	case rec.Kind != ledger.KindPublish:
		return fmt.Errorf("audit record is a %s record, not a publish", rec.Kind)
	case rec.RequestID != batch || rec.Resource != resource || rec.Department != provider:
		return fmt.Errorf("audit record is the publish of batch %s of %s by %s, not of batch %s of %s by %s", rec.RequestID, rec.Resource, rec.Department, batch, resource, provider)
	case !bytes.Equal(rec.ResponseDigest, digest):
		return errors.New("the data does not hash to the digest the publish record carries: it is not what the provider published")
	}
	return nil
}

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
	cs := commitments(r.Seal.Salt, r.Fields)
	root, err := verify.RootFromPath(r.Seal.Position, r.Seal.BatchSize, VersionDigest(r.Resource, r.Batch, r.Subject, r.Deleted, cs), r.Seal.Path)
	if err != nil {
		return nil, v.fail(ctx, r, pv.index, err)
	}
	if !bytes.Equal(PublishDigest(pv.evidenceDigest, root), pv.digest) {
		return nil, v.fail(ctx, r, pv.index, errors.New("its digest, recomputed from the stored data, is not the one its publish record carries"))
	}
	out := &exchange.Vouch{PublishRecord: pv.index, EvidenceDigest: pv.evidenceDigest, Position: r.Seal.Position, BatchSize: r.Seal.BatchSize,
		Path: r.Seal.Path, Salts: map[string][]byte{}, Withheld: map[string][]byte{}}
	for n := range r.Fields {
		if slices.Contains(items, n) {
			out.Salts[n] = ItemSalt(r.Seal.Salt, n)
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
		return pv, ledgerErr(err)
	}
	if err := CheckPublishRecord(e.Record, r.Resource, r.PublishedBy, r.Batch, e.Record.ResponseDigest); err != nil || b.Provider != r.PublishedBy {
		if err == nil {
			err = fmt.Errorf("batch %s was published by %s, the record says %s", b.ID, b.Provider, r.PublishedBy)
		}
		return pv, v.fail(ctx, r, *b.PublishRecord, err)
	}
	pv = publishVouch{index: *b.PublishRecord, evidenceDigest: EvidenceDigest(b.Evidence), digest: e.Record.ResponseDigest}
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
