// Package storetest is the conformance suite every store.Store implementation must pass
// (the openfga/tessera pattern): the same behaviour on SQLite and PostgreSQL.
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

// Run runs every conformance test. newStore returns a fresh, empty, migrated store; the
// suite closes it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Departments", func(t *testing.T) { testDepartments(t, newStore(t)) })
	t.Run("DepartmentList", func(t *testing.T) { testDepartmentList(t, newStore(t)) })
	t.Run("Nonces", func(t *testing.T) { testNonces(t, newStore(t)) })
	t.Run("NonceRace", func(t *testing.T) { testNonceRace(t, newStore(t)) })
	t.Run("Records", func(t *testing.T) { testRecords(t, newStore(t)) })
	t.Run("ChangeFeed", func(t *testing.T) { testChangeFeed(t, newStore(t)) })
	t.Run("BatchFiles", func(t *testing.T) { testBatchFiles(t, newStore(t)) })
	t.Run("Objections", func(t *testing.T) { testObjections(t, newStore(t)) })
	t.Run("Policies", func(t *testing.T) { testPolicies(t, newStore(t)) })
	t.Run("Catalog", func(t *testing.T) { testCatalog(t, newStore(t)) })
	t.Run("CatalogSearch", func(t *testing.T) { testCatalogSearch(t, newStore(t)) })
	t.Run("Requirements", func(t *testing.T) { testRequirements(t, newStore(t)) })
	t.Run("RequirementList", func(t *testing.T) { testRequirementList(t, newStore(t)) })
	t.Run("Matters", func(t *testing.T) { testMatters(t, newStore(t)) })
	t.Run("Cases", func(t *testing.T) { testCases(t, newStore(t)) })
	t.Run("Proposals", func(t *testing.T) { testProposals(t, newStore(t)) })
	t.Run("CertTypes", func(t *testing.T) { testCertTypes(t, newStore(t)) })
	t.Run("ECerts", func(t *testing.T) { testECerts(t, newStore(t)) })
	t.Run("Seals", func(t *testing.T) { testSeals(t, newStore(t)) })
	t.Run("TrustBundles", func(t *testing.T) { testTrustBundles(t, newStore(t)) })
	t.Run("CRLSources", func(t *testing.T) { testCRLSources(t, newStore(t)) })
	t.Run("SealedDocuments", func(t *testing.T) { testSealedDocuments(t, newStore(t)) })
	t.Run("CalendarYears", func(t *testing.T) { testCalendarYears(t, newStore(t)) })
	t.Run("RequirementProvisional", func(t *testing.T) { testRequirementProvisional(t, newStore(t)) })
	t.Run("OutboxAtomic", func(t *testing.T) { testOutboxAtomic(t, newStore(t)) })
	t.Run("OutboxDrain", func(t *testing.T) { testOutboxDrain(t, newStore(t)) })
	t.Run("Ping", func(t *testing.T) {
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		require.NoError(t, s.Ping(context.Background()))
		v, err := s.SchemaVersion(context.Background())
		require.NoError(t, err)
		require.Positive(t, v)
	})
}

// Code returns a valid 统一社会信用代码 made from a 6-digit region and a sequence number.
func Code(t testing.TB, region string, seq int) string {
	t.Helper()
	body := fmt.Sprintf("11%s%09d", region, seq) // 1=机关 1=机关, region, 9-digit organisation code
	c, err := exchange.USCCCheckChar(body)
	require.NoError(t, err)
	return body + string(c)
}

// Department returns a valid department for tests.
func Department(t testing.TB, region string, seq int) *exchange.Department {
	t.Helper()
	return &exchange.Department{
		Code:         Code(t, region, seq),
		Name:         fmt.Sprintf("测试部门%d", seq),
		Level:        exchange.LevelMunicipal,
		Region:       region,
		Roles:        []exchange.Role{exchange.RoleConsumer, exchange.RoleProvider},
		Certificate:  []byte{0x30, 0x03, 0x02, 0x01, byte(seq)},
		CertSerial:   fmt.Sprintf("%032x", seq),
		RegisteredAt: time.Date(2026, 11, 20, 8, 0, 0, 123000, time.UTC),
	}
}

func testDepartments(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	d := Department(t, "500112", 1)
	require.NoError(t, s.Departments().Create(ctx, d))

	got, err := s.Departments().Get(ctx, d.Code)
	require.NoError(t, err)
	require.Equal(t, d, got)

	t.Run("fail/duplicate code writes nothing", func(t *testing.T) {
		dup := Department(t, "500112", 1)
		dup.Name = "另一个名字"
		err := s.Departments().Create(ctx, dup)
		require.ErrorIs(t, err, exchange.ErrAlreadyExists)
		got, err := s.Departments().Get(ctx, d.Code)
		require.NoError(t, err)
		require.Equal(t, d.Name, got.Name)
	})
	t.Run("fail/invalid department writes nothing", func(t *testing.T) {
		bad := Department(t, "500112", 2)
		bad.Code = bad.Code[:17] + "0"
		if bad.Code == Department(t, "500112", 2).Code {
			bad.Code = bad.Code[:17] + "1"
		}
		require.ErrorIs(t, s.Departments().Create(ctx, bad), exchange.ErrInvalid)
		_, err := s.Departments().Get(ctx, bad.Code)
		require.ErrorIs(t, err, exchange.ErrNotFound)
		noCert := Department(t, "500112", 3)
		noCert.Certificate = nil
		require.ErrorIs(t, s.Departments().Create(ctx, noCert), exchange.ErrInvalid)
		_, err = s.Departments().Get(ctx, noCert.Code)
		require.ErrorIs(t, err, exchange.ErrNotFound)
	})
	t.Run("fail/unknown code", func(t *testing.T) {
		_, err := s.Departments().Get(ctx, Code(t, "500112", 99))
		require.ErrorIs(t, err, exchange.ErrNotFound)
		require.ErrorIs(t, s.Departments().UpdateCertificate(ctx, Code(t, "500112", 99), []byte{1}, "01"), exchange.ErrNotFound)
	})
	t.Run("ok/update certificate", func(t *testing.T) {
		require.NoError(t, s.Departments().UpdateCertificate(ctx, d.Code, []byte{9, 9, 9}, "abcdef"))
		got, err := s.Departments().Get(ctx, d.Code)
		require.NoError(t, err)
		require.Equal(t, []byte{9, 9, 9}, got.Certificate)
		require.Equal(t, "abcdef", got.CertSerial)
	})
}

func testDepartmentList(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	var want []string
	for i := 1; i <= 25; i++ {
		region := "500112"
		if i%5 == 0 {
			region = "110105"
		}
		d := Department(t, region, i)
		if i%2 == 0 {
			d.Level = exchange.LevelCounty
		}
		require.NoError(t, s.Departments().Create(ctx, d))
		want = append(want, d.Code)
	}
	var got []string
	after := ""
	for {
		page, err := s.Departments().List(ctx, store.DepartmentFilter{}, after, 7)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 7)
		for _, d := range page {
			got = append(got, d.Code)
		}
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].Code
	}
	require.ElementsMatch(t, want, got)
	require.IsNonDecreasing(t, got)

	byRegion, err := s.Departments().List(ctx, store.DepartmentFilter{Region: "110105"}, "", 100)
	require.NoError(t, err)
	require.Len(t, byRegion, 5)
	both, err := s.Departments().List(ctx, store.DepartmentFilter{Region: "110105", Level: exchange.LevelCounty}, "", 100)
	require.NoError(t, err)
	require.Len(t, both, 2) // 10 and 20
	for _, d := range both {
		require.Equal(t, exchange.LevelCounty, d.Level)
		require.Equal(t, "110105", d.Region)
	}
	_, err = s.Departments().List(ctx, store.DepartmentFilter{}, "", 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)
	_, err = s.Departments().List(ctx, store.DepartmentFilter{}, "", 1001)
	require.ErrorIs(t, err, exchange.ErrInvalid)
}

func testNonces(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	n := s.Nonces()
	exp := time.Now().Add(10 * time.Minute)
	require.NoError(t, n.Use(ctx, "A", "n1", exp))
	require.ErrorIs(t, n.Use(ctx, "A", "n1", exp), store.ErrReplay)
	require.NoError(t, n.Use(ctx, "B", "n1", exp), "nonces are per department")
	require.NoError(t, n.Use(ctx, "A", "n2", exp))

	// An expired record no longer blocks (the timestamp window refuses such requests).
	require.NoError(t, n.Use(ctx, "A", "old", time.Now().Add(-time.Second)))
	require.NoError(t, n.Use(ctx, "A", "old", exp))

	require.NoError(t, n.Use(ctx, "C", "x", time.Now().Add(-time.Minute)))
	require.NoError(t, n.Use(ctx, "C", "y", time.Now().Add(-time.Minute)))
	purged, err := n.Purge(ctx, time.Now())
	require.NoError(t, err)
	require.Equal(t, int64(2), purged)
	require.ErrorIs(t, n.Use(ctx, "A", "n1", exp), store.ErrReplay, "live nonces survive a purge")
}

func testNonceRace(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	const workers = 16
	var ok, replay atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.Nonces().Use(ctx, "D", "same", exp); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrReplay):
				replay.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	require.Equal(t, int32(1), ok.Load(), "exactly one concurrent use of a nonce succeeds")
	require.Equal(t, int32(workers-1), replay.Load())

	// Many nonces at once, each used three times (uses are group-committed together):
	// exactly one use of each succeeds.
	const nonces, uses = 200, 3
	results := make([]error, nonces*uses)
	for i := range results {
		wg.Go(func() { results[i] = s.Nonces().Use(ctx, "E", fmt.Sprintf("n%d", i%nonces), exp) })
	}
	wg.Wait()
	okPer := make([]int, nonces)
	for i, err := range results {
		if err == nil {
			okPer[i%nonces]++
		} else {
			require.ErrorIs(t, err, store.ErrReplay)
		}
	}
	for i, n := range okPer {
		require.Equal(t, 1, n, "nonce n%d", i)
	}
}
