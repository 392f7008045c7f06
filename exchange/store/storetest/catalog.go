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

// Resource returns a valid conditional resource of provider for tests.
func Resource(code, provider string) *exchange.Resource {
	return &exchange.Resource{
		Code:        code,
		Name:        "户籍人口信息",
		Provider:    provider,
		Description: "常住户口登记信息",
		Items: []exchange.DataItem{
			{Name: "name", Title: "姓名", Type: "string", Sensitivity: exchange.SensitivityPersonal},
			{Name: "id_number", Title: "公民身份号码", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal},
			{Name: "address", Title: "住址", Type: "string", Sensitivity: exchange.SensitivityPersonal},
		},
		SubjectKind:     exchange.SubjectIDNumber,
		ShareType:       exchange.ShareConditional,
		Condition:       "仅用于依法办理的政务服务事项",
		UpdateCycle:     exchange.CycleDaily,
		ProvisionMethod: exchange.ProvisionPullAPI,
		ScopeRegion:     "500000",
		ScopeLevel:      exchange.LevelProvincial,
		FreshnessLimit:  1,
		UpdatedAt:       time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		UpdatedBy:       provider,
	}
}

func testCatalog(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := s.Catalog()
	p1, p2 := Code(t, "500000", 1), Code(t, "500000", 2)
	r := Resource("500000-GA-0001", p1)
	require.NoError(t, r.Validate())
	require.NoError(t, c.Create(ctx, r))
	require.Equal(t, 1, r.Version)

	got, err := c.Get(ctx, r.Code, 0)
	require.NoError(t, err)
	require.Equal(t, r, got)
	require.False(t, got.Published)

	t.Run("fail/duplicate code writes nothing", func(t *testing.T) {
		dup := Resource(r.Code, p2)
		dup.Name = "别的"
		require.ErrorIs(t, c.Create(ctx, dup), exchange.ErrAlreadyExists)
		got, err := c.Get(ctx, r.Code, 0)
		require.NoError(t, err)
		require.Equal(t, r, got)
	})

	v2 := Resource(r.Code, p1)
	v2.Name = "户籍人口基本信息"
	v2.Items = append(v2.Items, exchange.DataItem{Name: "birth_date", Title: "出生日期", Type: "date", Sensitivity: exchange.SensitivityPersonal})
	v2.Version = 2
	v2.UpdatedAt = r.UpdatedAt.Add(time.Hour)
	require.NoError(t, c.Update(ctx, v2))

	t.Run("ok/versions stay readable", func(t *testing.T) {
		cur, err := c.Get(ctx, r.Code, 0)
		require.NoError(t, err)
		require.Equal(t, v2, cur)
		old, err := c.Get(ctx, r.Code, 1)
		require.NoError(t, err)
		require.Equal(t, r, old)
		same, err := c.Get(ctx, r.Code, 2)
		require.NoError(t, err)
		require.Equal(t, v2, same)
		_, err = c.Get(ctx, r.Code, 3)
		require.ErrorIs(t, err, exchange.ErrNotFound)
		h, err := c.History(ctx, r.Code, 0, 10)
		require.NoError(t, err)
		require.Equal(t, []*exchange.Resource{r, v2}, h)
		h, err = c.History(ctx, r.Code, 1, 10)
		require.NoError(t, err)
		require.Equal(t, []*exchange.Resource{v2}, h)
		_, err = c.History(ctx, "NO-SUCH", 0, 10)
		require.ErrorIs(t, err, exchange.ErrNotFound)
	})
	t.Run("fail/stale version writes nothing", func(t *testing.T) {
		stale := Resource(r.Code, p1)
		stale.Version = 2
		stale.Name = "过期的修改"
		err := c.Update(ctx, stale)
		require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
		require.Contains(t, err.Error(), "version 2")
		cur, err := c.Get(ctx, r.Code, 0)
		require.NoError(t, err)
		require.Equal(t, v2, cur)
	})
	t.Run("fail/provider cannot change", func(t *testing.T) {
		other := Resource(r.Code, p2)
		other.Version = 3
		err := c.Update(ctx, other)
		require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
		var e *exchange.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "RESOURCE_PROVIDER_FIXED", e.Reason)
		_, err = c.Get(ctx, r.Code, 3)
		require.ErrorIs(t, err, exchange.ErrNotFound)
	})
	t.Run("fail/unknown code", func(t *testing.T) {
		u := Resource("NO-SUCH", p1)
		u.Version = 2
		require.ErrorIs(t, c.Update(ctx, u), exchange.ErrNotFound)
		_, err := c.Get(ctx, "NO-SUCH", 0)
		require.ErrorIs(t, err, exchange.ErrNotFound)
		require.ErrorIs(t, c.MarkPublished(ctx, "NO-SUCH", time.Now()), exchange.ErrNotFound)
	})
	t.Run("ok/published applies to every version and keeps the first time", func(t *testing.T) {
		at := time.Date(2026, 3, 3, 1, 2, 3, 4000, time.UTC)
		require.NoError(t, c.MarkPublished(ctx, r.Code, at))
		require.NoError(t, c.MarkPublished(ctx, r.Code, at.Add(time.Hour)))
		for _, v := range []int{0, 1} {
			got, err := c.Get(ctx, r.Code, v)
			require.NoError(t, err)
			require.True(t, got.Published)
			require.Equal(t, at, got.PublishedAt)
		}
	})
	t.Run("ok/concurrent updates from one version: exactly one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := Resource(r.Code, p1)
				u.Version = 3
				u.Name = fmt.Sprintf("并发修改%d", i)
				errs[i] = c.Update(ctx, u)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				require.ErrorIs(t, err, exchange.ErrFailedPrecondition)
			}
		}
		require.Equal(t, 1, won)
		h, err := c.History(ctx, r.Code, 0, 10)
		require.NoError(t, err)
		require.Len(t, h, 3)
	})
}

func testCatalogSearch(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := s.Catalog()
	p1, p2 := Code(t, "500000", 1), Code(t, "500000", 2)
	mk := func(code, provider, name string, items ...exchange.DataItem) *exchange.Resource {
		r := Resource(code, provider)
		r.Name, r.Description = name, ""
		if len(items) > 0 {
			r.Items = items
		}
		require.NoError(t, r.Validate())
		require.NoError(t, c.Create(ctx, r))
		return r
	}
	lic := exchange.DataItem{Name: "legal_representative", Title: "法定代表人", Type: "string", Sensitivity: exchange.SensitivityPublic}
	mk("500000-SCJG-0001", p1, "营业执照信息", lic)
	mk("500000-GA-0001", p2, "户籍人口信息")
	mk("500000-GA-0002", p2, "出入境证件信息")
	mk("500000-MZ-0001", p1, "婚姻登记信息")
	pct := mk("500000-TEST-100", p1, "100%_达标")
	for i := range 20 {
		mk(fmt.Sprintf("500000-BULK-%03d", i), p2, fmt.Sprintf("批量资源%d", i))
	}
	codes := func(rs []*exchange.Resource) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Code)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.ResourceFilter
		want []string
	}{
		{"name substring (Chinese)", store.ResourceFilter{Text: "人口"}, []string{"500000-GA-0001"}},
		{"name substring, several", store.ResourceFilter{Text: "信息", Provider: p2}, []string{"500000-GA-0001", "500000-GA-0002"}},
		{"code substring, any case", store.ResourceFilter{Text: "scjg"}, []string{"500000-SCJG-0001"}},
		{"provider", store.ResourceFilter{Provider: p1}, []string{"500000-MZ-0001", "500000-SCJG-0001", "500000-TEST-100"}},
		{"item title", store.ResourceFilter{Item: "法定代表"}, []string{"500000-SCJG-0001"}},
		{"item name", store.ResourceFilter{Item: "legal_rep"}, []string{"500000-SCJG-0001"}},
		{"LIKE wildcards are literal", store.ResourceFilter{Text: "%_"}, []string{pct.Code}},
		{"share type", store.ResourceFilter{ShareType: exchange.ShareNotShared}, nil},
		{"nothing", store.ResourceFilter{Text: "不存在的名字"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Search(ctx, tc.f, "", 100)
			require.NoError(t, err)
			require.Equal(t, tc.want, codes(got))
		})
	}
	t.Run("paging", func(t *testing.T) {
		var got []string
		after := ""
		for {
			page, err := c.Search(ctx, store.ResourceFilter{Provider: p2}, after, 6)
			require.NoError(t, err)
			got = append(got, codes(page)...)
			if len(page) < 6 {
				break
			}
			after = page[len(page)-1].Code
		}
		require.Len(t, got, 22)
		require.IsIncreasing(t, got)
	})
	_, err := c.Search(ctx, store.ResourceFilter{}, "", 0)
	require.ErrorIs(t, err, exchange.ErrInvalid)
	_, err = c.History(ctx, "500000-GA-0001", 0, 1001)
	require.ErrorIs(t, err, exchange.ErrInvalid)
}
