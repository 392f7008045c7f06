package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/exchange/store/storetest"
)

func openBench(b *testing.B) storetest.AuditStore {
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAuditAppend: group-committed audit appends on SQLite (issue 5).
//
//	go test -run '^$' -bench BenchmarkAuditAppend -benchtime 20000x ./exchange/store/sqlite
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
			s, err := sqlite.Open(context.Background(), b.TempDir(), sqlstore.WithAuditIndexOnRead())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			storetest.BenchAuditAppend(b, s, time.Millisecond, g)
		})
	}
}

// BenchmarkAuditProofs: proof generation and verification, and index searches, on a
// SQLite audit log of -audit.benchsize records.
//
//	go test -run '^$' -bench BenchmarkAuditProofs ./exchange/store/sqlite
func BenchmarkAuditProofs(b *testing.B) { storetest.BenchAuditProofs(b, openBench(b)) }

// BenchmarkAuditIndexCatchUp: records per second the audit index follower indexes.
//
//	go test -run '^$' -bench BenchmarkAuditIndexCatchUp -benchtime 3x .
func BenchmarkAuditIndexCatchUp(b *testing.B) {
	s := openBench(b)
	storetest.BenchAuditIndexCatchUp(b, s, s.(*sqlstore.Store).DB())
}

// BenchmarkAuditIndexCost prices each secondary index of the audit index: the follower's
// rate with all of them, with none, and with each one dropped in turn.
//
//	go test -run '^$' -bench BenchmarkAuditIndexCost -benchtime 3x .
func BenchmarkAuditIndexCost(b *testing.B) {
	names := func(s storetest.AuditStore) []string {
		rows, err := s.(*sqlstore.Store).DB().Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_index' AND sql IS NOT NULL ORDER BY name`)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				b.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	all := names(openBench(b))
	for _, drop := range append([]string{"", "all"}, all...) {
		b.Run("without="+drop, func(b *testing.B) {
			s := openBench(b)
			for _, n := range all {
				if drop == "all" || drop == n {
					if _, err := s.(*sqlstore.Store).DB().Exec(`DROP INDEX ` + n); err != nil {
						b.Fatal(err)
					}
				}
			}
			storetest.BenchAuditIndexCatchUp(b, s, s.(*sqlstore.Store).DB())
		})
	}
}
