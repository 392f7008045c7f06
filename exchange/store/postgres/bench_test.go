package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gxhub/gxhub/exchange/store/postgres"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

func openBench(b *testing.B) storetest.AuditStore {
	s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAuditAppend: group-committed audit appends on PostgreSQL (issue 5).
//
//	go test -run '^$' -bench BenchmarkAuditAppend -benchtime 20000x ./exchange/store/postgres
func BenchmarkAuditAppend(b *testing.B) {
	for _, window := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("window=%s/goroutines=64xGOMAXPROCS", window), func(b *testing.B) {
			storetest.BenchAuditAppend(b, openBench(b), window, 64)
		})
	}
	b.Run("window=1ms/goroutines=512xGOMAXPROCS", func(b *testing.B) {
		storetest.BenchAuditAppend(b, openBench(b), time.Millisecond, 512)
	})
	// The log's storage alone: the index is not followed during the run (it catches up
	// when read).
	for _, g := range []int{64, 512} {
		b.Run(fmt.Sprintf("window=1ms/goroutines=%dxGOMAXPROCS/index=on-read", g), func(b *testing.B) {
			s, err := postgres.Open(context.Background(), pgtest.FreshSchemaDSN(b), sqlstore.WithAuditIndexOnRead())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			storetest.BenchAuditAppend(b, s, time.Millisecond, g)
		})
	}
}

// BenchmarkAuditProofs: proof generation and verification, and index searches, on a
// PostgreSQL audit log of -audit.benchsize records.
//
//	go test -run '^$' -bench BenchmarkAuditProofs ./exchange/store/postgres
func BenchmarkAuditProofs(b *testing.B) { storetest.BenchAuditProofs(b, openBench(b)) }

// BenchmarkAuditIndexCatchUp: records per second the audit index follower indexes.
//
//	go test -run '^$' -bench BenchmarkAuditIndexCatchUp -benchtime 3x .
func BenchmarkAuditIndexCatchUp(b *testing.B) {
	s := openBench(b)
	storetest.BenchAuditIndexCatchUp(b, s, s.(*sqlstore.Store).DB())
}
