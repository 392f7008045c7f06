package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

// SessionStore is the browser session table (sqlstore.Sessions) as the web pages use it.
type SessionStore interface {
	Create(ctx context.Context, idHash, department string, created, expires time.Time) error
	Get(ctx context.Context, idHash string, now time.Time) (string, time.Time, error)
	Delete(ctx context.Context, idHash string) error
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// RunSessions is the conformance suite of the browser session table. newSessions returns
// the table of a fresh, empty, migrated store that the caller closes.
func RunSessions(t *testing.T, newSessions func(t *testing.T) SessionStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	t.Run("create get delete", func(t *testing.T) {
		s := newSessions(t)
		require.NoError(t, s.Create(ctx, "h1", "dept-a", t0, t0.Add(8*time.Hour)))
		dept, exp, err := s.Get(ctx, "h1", t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, "dept-a", dept)
		require.True(t, exp.Equal(t0.Add(8*time.Hour)), "expiry %s", exp)
		require.NoError(t, s.Delete(ctx, "h1"))
		_, _, err = s.Get(ctx, "h1", t0.Add(time.Hour))
		require.Equal(t, exchange.KindUnauthenticated, exchange.KindOf(err), "deleted session: %v", err)
		require.NoError(t, s.Delete(ctx, "h1"), "deleting twice is not an error")
	})
	cases := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"before expiry", t0.Add(8*time.Hour - time.Microsecond), true},
		{"at expiry", t0.Add(8 * time.Hour), false},
		{"after expiry", t0.Add(9 * time.Hour), false},
	}
	for _, c := range cases {
		t.Run("expiry/"+c.name, func(t *testing.T) {
			s := newSessions(t)
			require.NoError(t, s.Create(ctx, "h", "dept-a", t0, t0.Add(8*time.Hour)))
			_, _, err := s.Get(ctx, "h", c.at)
			if c.ok {
				require.NoError(t, err)
			} else {
				require.Equal(t, exchange.KindUnauthenticated, exchange.KindOf(err), "got %v", err)
			}
		})
	}
	t.Run("fail/unknown", func(t *testing.T) {
		s := newSessions(t)
		_, _, err := s.Get(ctx, "nope", t0)
		require.Equal(t, exchange.KindUnauthenticated, exchange.KindOf(err), "got %v", err)
	})
	t.Run("fail/empty fields", func(t *testing.T) {
		s := newSessions(t)
		require.Error(t, s.Create(ctx, "", "dept-a", t0, t0.Add(time.Hour)))
		require.Error(t, s.Create(ctx, "h", "", t0, t0.Add(time.Hour)))
	})
	t.Run("fail/duplicate id writes nothing", func(t *testing.T) {
		s := newSessions(t)
		require.NoError(t, s.Create(ctx, "dup", "dept-a", t0, t0.Add(time.Hour)))
		err := s.Create(ctx, "dup", "dept-b", t0, t0.Add(2*time.Hour))
		require.Equal(t, exchange.KindAlreadyExists, exchange.KindOf(err), "got %v", err)
		dept, _, err := s.Get(ctx, "dup", t0)
		require.NoError(t, err)
		require.Equal(t, "dept-a", dept)
	})
	t.Run("concurrent create of one id: exactly one wins", func(t *testing.T) {
		s := newSessions(t)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.Create(ctx, "race", "dept-a", t0, t0.Add(time.Hour)) == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load())
	})
	t.Run("purge", func(t *testing.T) {
		s := newSessions(t)
		require.NoError(t, s.Create(ctx, "old", "dept-a", t0, t0.Add(time.Hour)))
		require.NoError(t, s.Create(ctx, "new", "dept-a", t0, t0.Add(8*time.Hour)))
		n, err := s.Purge(ctx, t0.Add(2*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, _, err = s.Get(ctx, "new", t0.Add(2*time.Hour))
		require.NoError(t, err)
		n, err = s.Purge(ctx, t0.Add(2*time.Hour))
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
