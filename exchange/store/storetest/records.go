package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// IDNumber returns a valid GB 11643 ID number with the given sequence (000–999).
func IDNumber(seq int) string {
	body := fmt.Sprintf("50011219900101%03d", seq%1000)
	return body + string(exchange.IDNumberCheckChar(body))
}

func testRecords(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	rs := s.Records()
	at := time.Date(2026, 2, 13, 17, 30, 0, 123000, time.UTC)
	a, b := IDNumber(1), IDNumber(2)
	batch := func(id string, at time.Time, cs ...exchange.Change) *exchange.Batch {
		return &exchange.Batch{ID: id, Resource: "RES-1", Provider: "P", Changes: cs, At: at, Evidence: "GXHUB-SM2 jws-" + id, BodyDigest: "d-" + id}
	}

	last, err := rs.LastUpdate(ctx, "RES-1")
	require.NoError(t, err)
	require.True(t, last.IsZero())

	out, err := rs.Publish(ctx, batch("b1", at,
		exchange.Change{Op: exchange.OpUpsert, Subject: a, Fields: map[string]string{"name": "张三", "addr": "重庆"}},
		exchange.Change{Op: exchange.OpUpsert, Subject: b, Fields: map[string]string{"name": "李四"}}))
	require.NoError(t, err)
	require.Len(t, out, 2)
	require.Equal(t, int64(1), out[0].Version)

	t.Run("ok/new version keeps history", func(t *testing.T) {
		_, err := rs.Publish(ctx, batch("b2", at.Add(time.Hour), exchange.Change{Op: exchange.OpUpsert, Subject: a, Fields: map[string]string{"name": "张三", "addr": "成都"}}))
		require.NoError(t, err)
		rec, err := rs.Latest(ctx, "RES-1", a)
		require.NoError(t, err)
		require.Equal(t, int64(2), rec.Version)
		require.Equal(t, "成都", rec.Fields["addr"])
		require.Equal(t, "b2", rec.Batch)
		old, err := rs.Version(ctx, "RES-1", a, 1)
		require.NoError(t, err)
		require.Equal(t, "重庆", old.Fields["addr"])
		require.Equal(t, at, old.PublishedAt)
		h, err := rs.History(ctx, "RES-1", a)
		require.NoError(t, err)
		require.Len(t, h, 2)
		bt, err := rs.Batch(ctx, "b2")
		require.NoError(t, err)
		require.Equal(t, "GXHUB-SM2 jws-b2", bt.Evidence)
		last, err := rs.LastUpdate(ctx, "RES-1")
		require.NoError(t, err)
		require.Equal(t, at.Add(time.Hour), last)
	})
	t.Run("fail/batch is atomic", func(t *testing.T) {
		_, err := rs.Publish(ctx, batch("b3", at.Add(2*time.Hour),
			exchange.Change{Op: exchange.OpUpsert, Subject: b, Fields: map[string]string{"name": "王五"}},
			exchange.Change{Op: exchange.OpDelete, Subject: IDNumber(3)}))
		require.Error(t, err)
		require.Equal(t, "NOTHING_TO_DELETE", reasonOf(err))
		rec, err := rs.Latest(ctx, "RES-1", b)
		require.NoError(t, err)
		require.Equal(t, int64(1), rec.Version, "the first change of a failed batch must not be written")
		_, err = rs.Batch(ctx, "b3")
		require.ErrorIs(t, err, exchange.ErrNotFound)
		last, err := rs.LastUpdate(ctx, "RES-1")
		require.NoError(t, err)
		require.Equal(t, at.Add(time.Hour), last, "a failed batch is not a successful publish")
	})
	t.Run("fail/batch id reused", func(t *testing.T) {
		_, err := rs.Publish(ctx, batch("b1", at, exchange.Change{Op: exchange.OpDelete, Subject: b}))
		require.ErrorIs(t, err, exchange.ErrAlreadyExists)
	})
	t.Run("ok/delete is a version", func(t *testing.T) {
		_, err := rs.Publish(ctx, batch("b4", at.Add(3*time.Hour), exchange.Change{Op: exchange.OpDelete, Subject: b}))
		require.NoError(t, err)
		rec, err := rs.Latest(ctx, "RES-1", b)
		require.NoError(t, err)
		require.True(t, rec.Deleted)
		require.Equal(t, int64(2), rec.Version)
		_, err = rs.Publish(ctx, batch("b5", at.Add(4*time.Hour), exchange.Change{Op: exchange.OpDelete, Subject: b}))
		require.Equal(t, "NOTHING_TO_DELETE", reasonOf(err))
	})
	t.Run("fail/unknown subject", func(t *testing.T) {
		_, err := rs.Latest(ctx, "RES-1", IDNumber(9))
		require.ErrorIs(t, err, exchange.ErrNotFound)
		_, err = rs.History(ctx, "RES-1", IDNumber(9))
		require.ErrorIs(t, err, exchange.ErrNotFound)
	})
	t.Run("ok/heartbeat only moves forward", func(t *testing.T) {
		require.NoError(t, rs.Heartbeat(ctx, "RES-2", at))
		require.NoError(t, rs.Heartbeat(ctx, "RES-2", at.Add(-time.Hour)))
		all, err := rs.LastUpdates(ctx)
		require.NoError(t, err)
		require.Equal(t, at, all["RES-2"])
		require.Equal(t, at.Add(3*time.Hour), all["RES-1"])
	})
	t.Run("ok/concurrent batches on one subject never share a version", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = rs.Publish(ctx, batch(fmt.Sprintf("c%d", i), at, exchange.Change{Op: exchange.OpUpsert, Subject: IDNumber(7), Fields: map[string]string{"n": fmt.Sprint(i)}}))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.Contains(t, []exchange.Kind{exchange.KindUnavailable}, exchange.KindOf(err), "%v", err)
			}
		}
		h, err := rs.History(ctx, "RES-1", IDNumber(7))
		require.NoError(t, err)
		require.Len(t, h, ok)
		for i, r := range h {
			require.Equal(t, int64(i+1), r.Version)
		}
	})
}

func testObjections(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	os := s.Objections()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i, cons := range []string{"C1", "C2", "C1"} {
		require.NoError(t, os.Raise(ctx, &exchange.Objection{ID: fmt.Sprintf("o%d", i), Resource: "RES-1", Subject: IDNumber(1), RecordVersion: 2,
			Consumer: cons, Provider: "P", Items: []string{"addr"}, Text: "地址有误", RaisedAt: at.Add(time.Duration(i) * time.Minute), RaisedEvidence: "jws",
			Deadline: at.Add(time.Duration(24*(i+1)) * time.Hour), DeadlineProvisional: i == 1}))
	}
	require.ErrorIs(t, os.Raise(ctx, &exchange.Objection{ID: "o0", RaisedAt: at}), exchange.ErrAlreadyExists)

	list, err := os.List(ctx, store.ObjectionFilter{Provider: "P", State: exchange.ObjectionOpen}, 10)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, "o2", list[0].ID, "newest first")
	list, err = os.List(ctx, store.ObjectionFilter{Consumer: "C2"}, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, []string{"addr"}, list[0].Items)
	require.Equal(t, at.Add(48*time.Hour), list[0].Deadline)
	require.True(t, list[0].DeadlineProvisional)

	// Overdue and escalation: once, by exactly one of concurrent sweepers.
	due, err := os.Overdue(ctx, at.Add(48*time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"o0", "o1"}, []string{due[0].ID, due[1].ID}, "oldest deadline first; o2 is not due yet")
	require.Len(t, due, 2)
	var escalated atomic.Int32
	var ewg sync.WaitGroup
	for range 4 {
		ewg.Add(1)
		go func() {
			defer ewg.Done()
			ok, err := os.Escalate(ctx, "o0", at.Add(49*time.Hour))
			require.NoError(t, err)
			if ok {
				escalated.Add(1)
			}
		}()
	}
	ewg.Wait()
	require.Equal(t, int32(1), escalated.Load())
	esc, err := os.List(ctx, store.ObjectionFilter{Escalated: true}, 10)
	require.NoError(t, err)
	require.Len(t, esc, 1)
	require.Equal(t, at.Add(49*time.Hour), esc[0].EscalatedAt)
	due, err = os.Overdue(ctx, at.Add(100*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, due, 2, "o0 is escalated already; o1 and o2 are due")

	// Two providers' clerks resolve at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = os.Resolve(ctx, &exchange.Objection{ID: "o1", State: exchange.ObjectionCorrected, ResolvedBy: "P", Resolution: fmt.Sprintf("fixed %d", i),
				ResolvedEvidence: "jws2", ResolvedAt: at.Add(time.Hour), CorrectedVersion: 3})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.Equal(t, "OBJECTION_NOT_OPEN", reasonOf(err), "%v", err)
		}
	}
	require.Equal(t, 1, won)
	ob, err := os.Get(ctx, "o1")
	require.NoError(t, err)
	require.Equal(t, exchange.ObjectionCorrected, ob.State)
	require.Equal(t, at.Add(time.Hour), ob.ResolvedAt)
	require.Equal(t, "P", ob.ResolvedBy)
	require.Equal(t, int64(3), ob.CorrectedVersion)
	ok, err := os.Escalate(ctx, "o1", at.Add(100*time.Hour))
	require.NoError(t, err)
	require.False(t, ok, "a resolved objection is not escalated")
	require.ErrorIs(t, os.Resolve(ctx, &exchange.Objection{ID: "o2", State: exchange.ObjectionOpen}), exchange.ErrInvalid)
	require.ErrorIs(t, os.Resolve(ctx, &exchange.Objection{ID: "nope", State: exchange.ObjectionRejected}), exchange.ErrNotFound)
}

func reasonOf(err error) string {
	var e *exchange.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
