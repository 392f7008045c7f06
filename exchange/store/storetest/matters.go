package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// Matter returns a valid matter for tests.
func Matter(code, department string) *exchange.Matter {
	return &exchange.Matter{
		Code: code, Name: "企业开办", Department: department, Version: 1, TimeLimit: 3,
		LegalBasis: exchange.LegalBasis{Kind: exchange.BasisLocalRegulation, Title: "重庆市优化营商环境条例", Article: "第三十五条"},
		Materials: []exchange.Material{
			{ID: "business_licence", Name: "营业执照", Resource: "500000-SCJG-0001", Items: []string{"uscc", "name"}},
			{ID: "id_card", Name: "居民身份证", ECertType: "11100000000013338W001"},
			{ID: "lease", Name: "租赁合同"},
		},
		UpdatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		UpdatedBy: department,
	}
}

func testMatters(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	m := s.Matters()
	d1, d2 := Code(t, "500000", 1), Code(t, "500000", 2)
	mt := Matter("500000-QYKB-001", d1)
	require.NoError(t, mt.Validate())
	require.NoError(t, m.Put(ctx, mt))
	got, err := m.Get(ctx, mt.Code)
	require.NoError(t, err)
	require.Equal(t, mt, got)

	require.ErrorIs(t, m.Put(ctx, Matter(mt.Code, d2)), exchange.ErrAlreadyExists)
	v2 := Matter(mt.Code, d1)
	v2.Version, v2.Name = 2, "企业开办（一件事）"
	require.NoError(t, m.Put(ctx, v2))
	stale := Matter(mt.Code, d1)
	stale.Version = 2
	require.ErrorIs(t, m.Put(ctx, stale), exchange.ErrFailedPrecondition)
	gap := Matter(mt.Code, d1)
	gap.Version = 9
	require.ErrorIs(t, m.Put(ctx, gap), exchange.ErrFailedPrecondition)
	got, err = m.Get(ctx, mt.Code)
	require.NoError(t, err)
	require.Equal(t, v2, got)
	none := Matter("NO-SUCH", d1)
	none.Version = 2
	require.ErrorIs(t, m.Put(ctx, none), exchange.ErrNotFound)
	_, err = m.Get(ctx, "NO-SUCH")
	require.ErrorIs(t, err, exchange.ErrNotFound)

	for i := range 9 {
		dep := d1
		if i%3 == 0 {
			dep = d2
		}
		require.NoError(t, m.Put(ctx, Matter(fmt.Sprintf("M-%02d", i), dep)))
	}
	all, err := m.List(ctx, "", "", 100)
	require.NoError(t, err)
	require.Len(t, all, 10)
	page, err := m.List(ctx, "", all[3].Code, 4)
	require.NoError(t, err)
	require.Equal(t, all[4:8], page)
	mine, err := m.List(ctx, d2, "", 100)
	require.NoError(t, err)
	require.Len(t, mine, 3)
	_, err = m.List(ctx, "", "", 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)
}
