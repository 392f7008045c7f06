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

// testChangeFeed: the change feed holds exactly the record versions published, in order,
// per resource; a refused batch adds nothing; a follower reading by cursor while batches
// commit concurrently misses none (sequence order is commit order).
func testChangeFeed(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	rs := s.Records()
	at := time.Date(2026, 2, 13, 17, 30, 0, 0, time.UTC)
	publish := func(id, resource string, cs ...exchange.Change) error {
		_, err := rs.Publish(ctx, &exchange.Batch{ID: id, Resource: resource, Provider: "P", Changes: cs, At: at, Evidence: "jws-" + id, BodyDigest: "d-" + id})
		return err
	}
	up := func(subject string) exchange.Change {
		return exchange.Change{Op: exchange.OpUpsert, Subject: subject, Fields: map[string]string{"n": subject}}
	}
	a, b := IDNumber(1), IDNumber(2)
	require.NoError(t, publish("f1", "RES-F", up(a), up(b)))
	require.NoError(t, publish("g1", "RES-G", up(a)))
	require.Error(t, publish("f2", "RES-F", up(a), exchange.Change{Op: exchange.OpDelete, Subject: IDNumber(3)}), "nothing to delete: the batch is refused")
	require.NoError(t, publish("f3", "RES-F", exchange.Change{Op: exchange.OpDelete, Subject: a}))

	all, err := rs.ChangesAfter(ctx, "RES-F", 0, 100)
	require.NoError(t, err)
	got := []string{}
	for i, c := range all {
		require.Equal(t, "RES-F", c.Resource)
		if i > 0 {
			require.Greater(t, c.Seq, all[i-1].Seq)
		}
		got = append(got, fmt.Sprintf("%s v%d", c.Subject, c.Version))
	}
	require.Equal(t, []string{a + " v1", b + " v1", a + " v2"}, got, "the refused batch left no change")
	rest, err := rs.ChangesAfter(ctx, "RES-F", all[0].Seq, 1)
	require.NoError(t, err)
	require.Equal(t, all[1:2], rest, "after a cursor, at most limit")

	t.Run("ok/a follower misses no change of concurrent publishes", func(t *testing.T) {
		const writers, each = 6, 5
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := publish(fmt.Sprintf("cc-%d-%d", w, i), "RES-C", up(IDNumber(100+w*each+i))); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		var seen []exchange.FeedChange
		cursor := int64(0)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		finished := false
		for !finished {
			select {
			case <-done:
				finished = true // one more read after the last commit
			default:
			}
			cs, err := rs.ChangesAfter(ctx, "RES-C", cursor, 7)
			require.NoError(t, err)
			for _, c := range cs {
				seen = append(seen, c)
				cursor = c.Seq
			}
			if finished && len(cs) == 7 {
				finished = false // not drained yet
			}
		}
		final, err := rs.ChangesAfter(ctx, "RES-C", 0, 1000)
		require.NoError(t, err)
		require.Len(t, final, writers*each)
		require.Equal(t, final, seen, "every committed change was read once, in order")
	})
}
