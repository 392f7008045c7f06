package storetest

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
)

const outboxLog = "outbox-test-log"

func intentFor(t *testing.T, id string, r ledger.Record) store.Intent {
	t.Helper()
	leaf, err := r.MarshalBinary()
	require.NoError(t, err)
	return store.Intent{Log: outboxLog, ID: id, Leaf: leaf, MAC: []byte("seal"), CreatedAt: time.Now()}
}

func outboxRecord(what string) ledger.Record {
	return ledger.Record{Kind: ledger.KindPolicyChange, Time: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC),
		Department: "11000000000000001X", Resource: what, Outcome: ledger.OutcomeOK}
}

// testOutboxAtomic: the business write and its intent commit together or not at all,
// and a store method that fails inside an audited write undoes only its own writes.
func testOutboxAtomic(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	ob := s.Outbox()

	// Committed: the department and the pending intent.
	d := Department(t, "110000", 1)
	seq, err := audited(ctx, ob, intentFor(t, "a", outboxRecord("one")), func(ctx context.Context) error {
		return s.Departments().Create(ctx, d)
	})
	require.NoError(t, err)
	require.Positive(t, seq)
	_, err = s.Departments().Get(ctx, d.Code)
	require.NoError(t, err)
	in, err := ob.Get(ctx, seq)
	require.NoError(t, err)
	require.False(t, in.Done)
	require.Equal(t, "a", in.ID)
	pending, err := ob.Pending(ctx, outboxLog, 0, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, seq, pending[0].Seq)

	// fn fails after writing: neither the write nor the intent is kept.
	d2 := Department(t, "110000", 2)
	boom := errors.New("refused after the write")
	_, err = audited(ctx, ob, intentFor(t, "b", outboxRecord("two")), func(ctx context.Context) error {
		require.NoError(t, s.Departments().Create(ctx, d2))
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = s.Departments().Get(ctx, d2.Code)
	require.Equal(t, exchange.KindNotFound, exchange.KindOf(err), "a failed audited write keeps nothing")
	pending, err = ob.Pending(ctx, outboxLog, 0, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "nor its intent")

	// A publish failing half-way inside an audited write (its own transaction becomes a
	// savepoint) leaves nothing of itself behind, while the rest of the write commits.
	d3 := Department(t, "110000", 3)
	_, err = audited(ctx, ob, intentFor(t, "c", outboxRecord("three")), func(ctx context.Context) error {
		_, perr := s.Records().Publish(ctx, &exchange.Batch{ID: "half", Resource: "R1", Provider: d.Code, At: time.Now(), Evidence: "e", BodyDigest: "d",
			Changes: []exchange.Change{{Op: exchange.OpUpsert, Subject: "S1", Fields: map[string]string{"a": "1"}}, {Op: exchange.OpDelete, Subject: "S2"}}})
		require.Error(t, perr)
		return s.Departments().Create(ctx, d3)
	})
	require.NoError(t, err)
	_, err = s.Records().Batch(ctx, "half")
	require.Equal(t, exchange.KindNotFound, exchange.KindOf(err), "the failed publish's batch row was undone")
	_, err = s.Records().Latest(ctx, "R1", "S1")
	require.Equal(t, exchange.KindNotFound, exchange.KindOf(err), "and its first record")
	_, err = s.Departments().Get(ctx, d3.Code)
	require.NoError(t, err)

	// One intent per write: a second intent with a used id is refused with its write.
	d4 := Department(t, "110000", 4)
	_, err = audited(ctx, ob, intentFor(t, "a", outboxRecord("four")), func(ctx context.Context) error {
		return s.Departments().Create(ctx, d4)
	})
	require.Error(t, err)
	_, err = s.Departments().Get(ctx, d4.Code)
	require.Equal(t, exchange.KindNotFound, exchange.KindOf(err))

	// No audited write inside another.
	_, err = audited(ctx, ob, intentFor(t, "e", outboxRecord("five")), func(ctx context.Context) error {
		_, err := audited(ctx, ob, intentFor(t, "f", outboxRecord("six")), func(context.Context) error { return nil })
		return err
	})
	require.Error(t, err)
}

// testOutboxDrain: the writer appends each intent exactly once — directly after the
// write, or by Drain after a "crash" between commit and append — marking it done with
// its leaf; an intent edited in the database is not appended.
func testOutboxDrain(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	st := s.LedgerStorage(outboxLog)
	cfg := ledgerlog.DefaultConfig(outboxLog)
	lg, err := ledgerlog.New(ctx, st, ledgertest.Signer(t, ledgertest.LogKeyName), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lg.Close(context.Background()) })
	w := &store.AuditWriter{Outbox: s.Outbox(), Log: lg, LogID: outboxLog, Key: []byte("0123456789abcdef0123456789abcdef"), Hash: sm.NewHash}

	// The normal path: acknowledged with the record's index; the intent is done there.
	d := Department(t, "120000", 1)
	idx, err := w.Write(ctx, func(ctx context.Context) (ledger.Record, error) {
		return outboxRecord(d.Code), s.Departments().Create(ctx, d)
	})
	require.NoError(t, err)
	e, err := lg.GetRecord(ctx, idx)
	require.NoError(t, err)
	require.Equal(t, d.Code, e.Record.Resource)
	drained, err := s.Outbox().Drained(ctx, outboxLog, 0, lg.Size())
	require.NoError(t, err)
	require.Len(t, drained, 1)
	require.Equal(t, idx, drained[0].Index)

	// A crash after the commit, before the append: the intent is pending; Drain appends
	// it once, and again never.
	sealed := func(id string, r ledger.Record) store.Intent {
		in := intentFor(t, id, r)
		in.MAC = w.SealFor(in)
		return in
	}
	d2 := Department(t, "120000", 2)
	seq, err := audited(ctx, s.Outbox(), sealed("crash-1", outboxRecord(d2.Code)), func(ctx context.Context) error {
		return s.Departments().Create(ctx, d2)
	})
	require.NoError(t, err)
	before := lg.Size()
	n, err := w.Drain(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, before+1, lg.Size())
	n, err = w.Drain(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n, "a second drain appends nothing")
	in, err := s.Outbox().Get(ctx, seq)
	require.NoError(t, err)
	require.True(t, in.Done)
	e, err = lg.GetRecord(ctx, in.Index)
	require.NoError(t, err)
	require.Equal(t, d2.Code, e.Record.Resource)

	// Appending a drained intent again writes nothing and says why.
	_, err = lg.AppendIntents(ctx, []ledger.Record{outboxRecord(d2.Code)}, []uint64{seq})
	require.ErrorIs(t, err, ledger.ErrIntentDone)
	require.Equal(t, before+1, lg.Size(), "no second record")

	// An insider rewrites a pending intent's record in the database: it fails its seal
	// and is not appended; the writer counts it.
	d3 := Department(t, "120000", 3)
	seq3, err := audited(ctx, s.Outbox(), sealed("crash-2", outboxRecord(d3.Code)), func(ctx context.Context) error {
		return s.Departments().Create(ctx, d3)
	})
	require.NoError(t, err)
	fr := outboxRecord("someone-else")
	forged, err := fr.MarshalBinary()
	require.NoError(t, err)
	db := s.(interface{ DB() *sql.DB }).DB()
	_, err = db.ExecContext(ctx, `UPDATE audit_outbox SET leaf = $1 WHERE seq = $2`, forged, int64(seq3))
	require.NoError(t, err)
	size := lg.Size()
	n, err = w.Drain(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, size, lg.Size(), "the forged record is not in the log")
	require.EqualValues(t, 1, w.Tampered())
}

// audited is an audited write of one intent.
func audited(ctx context.Context, ob store.Outbox, in store.Intent, fn func(ctx context.Context) error) (uint64, error) {
	seqs, err := ob.Audited(ctx, func(ctx context.Context) ([]store.Intent, error) {
		if err := fn(ctx); err != nil {
			return nil, err
		}
		return []store.Intent{in}, nil
	})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}
