package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func testECert(id, holder string, at time.Time) *store.ECert {
	return &store.ECert{Identifier: id, TypeCode: "T1", IssuerCode: "ISS", HolderCode: holder, HolderName: "持证人",
		Name: "证照", Version: 1, Sealed: "a.b." + id, SealedSM3: "00", Metadata: `{"x":1}`, IssuedAt: at, RegisteredAt: at.Add(time.Second)}
}

func testCertTypes(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := s.Certs()
	at := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	require.NoError(t, c.PutType(ctx, &store.CertType{Code: "B", Definer: "D", Body: `{"code":"B"}`, RegisteredAt: at}))
	require.NoError(t, c.PutType(ctx, &store.CertType{Code: "A", Definer: "D", Body: `{"code":"A"}`, RegisteredAt: at}))
	err := c.PutType(ctx, &store.CertType{Code: "A", Definer: "E", Body: `{}`, RegisteredAt: at})
	require.ErrorIs(t, err, exchange.ErrAlreadyExists)
	require.ErrorIs(t, c.PutType(ctx, &store.CertType{Code: "C"}), exchange.ErrInvalid)
	got, err := c.ListTypes(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "A", got[0].Code)
	require.Equal(t, `{"code":"A"}`, got[0].Body, "a refused duplicate changes nothing")
	require.Equal(t, at, got[0].RegisteredAt)
}

func testECerts(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := s.Certs()
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	e := testECert("id.001", "H1", t0)
	require.NoError(t, c.Issue(ctx, e, "", "ISS"))
	got, err := c.Get(ctx, "id.001")
	require.NoError(t, err)
	require.Equal(t, store.ECertActive, got.Status)
	require.Equal(t, e.Sealed, got.Sealed)
	require.Equal(t, t0, got.IssuedAt)

	t.Run("fail/duplicate identifier", func(t *testing.T) {
		require.ErrorIs(t, c.Issue(ctx, testECert("id.001", "H1", t0), "", "ISS"), exchange.ErrAlreadyExists)
	})
	t.Run("fail/missing fields", func(t *testing.T) {
		bad := testECert("id.x", "H1", t0)
		bad.Sealed = ""
		require.ErrorIs(t, c.Issue(ctx, bad, "", "ISS"), exchange.ErrInvalid)
	})
	t.Run("ok/status history and status at a time", func(t *testing.T) {
		t1, t2, t3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
		require.NoError(t, c.ChangeStatus(ctx, "id.001", store.ECertActive, store.ECertSuspended, store.ECertEvent{At: t1, Reason: "核查", By: "ISS"}))
		err := c.ChangeStatus(ctx, "id.001", store.ECertActive, store.ECertRevoked, store.ECertEvent{At: t2, By: "ISS"})
		require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err), "compare-and-set refuses a stale from")
		require.NoError(t, c.ChangeStatus(ctx, "id.001", store.ECertSuspended, store.ECertActive, store.ECertEvent{At: t2, By: "ISS"}))
		require.NoError(t, c.ChangeStatus(ctx, "id.001", store.ECertActive, store.ECertRevoked, store.ECertEvent{At: t3, Reason: "吊销", By: "ISS"}))
		for _, tc := range []struct {
			at   time.Time
			want store.ECertStatus
		}{{t0, store.ECertActive}, {t1.Add(time.Minute), store.ECertSuspended}, {t2, store.ECertActive}, {t3.Add(time.Hour), store.ECertRevoked}} {
			ev, err := c.StatusAt(ctx, "id.001", tc.at)
			require.NoError(t, err)
			require.Equal(t, tc.want, ev.Status, "at %s", tc.at)
		}
		_, err = c.StatusAt(ctx, "id.001", t0.Add(-time.Second))
		require.ErrorIs(t, err, exchange.ErrNotFound, "before issue there is no status")
		h, err := c.History(ctx, "id.001")
		require.NoError(t, err)
		require.Len(t, h, 4)
		got, err := c.Get(ctx, "id.001")
		require.NoError(t, err)
		require.Equal(t, store.ECertRevoked, got.Status)
		require.Equal(t, "吊销", got.StatusReason)
		require.Equal(t, t3, got.StatusSince)
		err = c.ChangeStatus(ctx, "id.001", store.ECertRevoked, store.ECertActive, store.ECertEvent{At: t3, By: "ISS"})
		require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err), "revoked is final")
	})
	t.Run("ok/update supersedes atomically", func(t *testing.T) {
		require.NoError(t, c.Issue(ctx, testECert("id2.001", "H2", t0), "", "ISS"))
		v2 := testECert("id2.002", "H2", t0.Add(time.Hour))
		v2.Version = 2
		require.NoError(t, c.Issue(ctx, v2, "id2.001", "ISS"))
		old, err := c.Get(ctx, "id2.001")
		require.NoError(t, err)
		require.Equal(t, store.ECertSuperseded, old.Status)
		// A superseded version cannot be superseded again; nothing is written.
		v3 := testECert("id2.003", "H2", t0.Add(2*time.Hour))
		err = c.Issue(ctx, v3, "id2.001", "ISS")
		require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err))
		_, err = c.Get(ctx, "id2.003")
		require.ErrorIs(t, err, exchange.ErrNotFound)
		require.ErrorIs(t, c.Issue(ctx, v3, "nope", "ISS"), exchange.ErrNotFound)
		list, err := c.ListByHolder(ctx, "H2")
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "id2.002", list[0].Identifier, "newest first")
		none, err := c.ListByHolder(ctx, "H9")
		require.NoError(t, err)
		require.Empty(t, none)
	})
	t.Run("ok/concurrent changes: exactly one wins", func(t *testing.T) {
		require.NoError(t, c.Issue(ctx, testECert("id3.001", "H3", t0), "", "ISS"))
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.ChangeStatus(ctx, "id3.001", store.ECertActive, store.ECertAnnulled, store.ECertEvent{At: t0.Add(time.Duration(i+1) * time.Minute), Reason: fmt.Sprint(i), By: "ISS"})
			}()
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
			} else {
				require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err), "%v", err)
			}
		}
		require.Equal(t, 1, ok)
		h, err := c.History(ctx, "id3.001")
		require.NoError(t, err)
		require.Len(t, h, 2)
	})
}

func testSeals(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := s.Certs()
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	for i := range 3 {
		require.NoError(t, c.PutSeal(ctx, &store.Seal{ESID: fmt.Sprintf("S%d", i), Department: "D1", Name: "章", DER: []byte{0x30, byte(i)}, MadeAt: t0.Add(time.Duration(i) * time.Hour), ValidTo: t0.AddDate(1, 0, 0)}))
	}
	require.ErrorIs(t, c.PutSeal(ctx, &store.Seal{ESID: "S0", Department: "D2", DER: []byte{1}, MadeAt: t0}), exchange.ErrAlreadyExists)
	require.ErrorIs(t, c.PutSeal(ctx, &store.Seal{ESID: "S9", Department: "D2", MadeAt: t0}), exchange.ErrInvalid)
	list, err := c.ListSeals(ctx, "D1")
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, "S2", list[0].ESID)
	require.True(t, list[0].RevokedAt.IsZero())
	require.NoError(t, c.RevokeSeal(ctx, "S1", t0.Add(5*time.Hour), "丢失"))
	err = c.RevokeSeal(ctx, "S1", t0.Add(6*time.Hour), "again")
	require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err))
	require.ErrorIs(t, c.RevokeSeal(ctx, "nope", t0, ""), exchange.ErrNotFound)
	got, err := c.GetSeal(ctx, "S1")
	require.NoError(t, err)
	require.Equal(t, t0.Add(5*time.Hour), got.RevokedAt, "the first revocation stands")
	require.Equal(t, "丢失", got.RevokeReason)
	require.Equal(t, []byte{0x30, 1}, got.DER)
	_, err = c.GetSeal(ctx, "nope")
	require.ErrorIs(t, err, exchange.ErrNotFound)
}
