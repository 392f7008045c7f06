package web_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/calendar"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// TestBrowserCalendarWarning: on 2026-12-28, before the 2027 notice, the coordinator's
// pages carry the calendar warning and the requirements page marks a deadline in 2027 as
// provisional; a department that does not own the calendar gets no banner.
func TestBrowserCalendarWarning(t *testing.T) {
	ctx := browser(t)
	clk := &fixedClock{t: time.Date(2026, 12, 28, 10, 0, 0, 0, calendar.Location())}
	// Plain HTTP: the TLS certificate would be dated by the fake clock.
	th := startHub(t, func(c *config.Config) { c.Demo, c.Insecure = true, true }, hub.WithClock(clk.Now))
	dial := func(i int) *sdk.Client {
		c, err := sdk.Dial(context.Background(), th.identity(t, i), sdk.WithClock(clk.Now))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	// 住房公积金管理中心 asks 不动产登记中心 (unpublished, 10 working days to answer) for data;
	// the coordinator accepts the request as complete: the answer deadline is in 2027.
	f, err := dial(4).Requirements.FileRequirement(context.Background(), &exchangev1.FileRequirementRequest{Resource: "500000-BDC-0001",
		Items: []string{"owner_name"}, MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: "《住房公积金管理条例》第二十四条"})
	require.NoError(t, err)
	d, err := dial(0).Requirements.DecideRequirement(context.Background(), &exchangev1.DecideRequirementRequest{Id: f.GetRequirement().GetId(), Action: "accept_complete"})
	require.NoError(t, err)
	require.True(t, d.GetRequirement().GetDeadlineProvisional())

	signInAt := func(id *identity.Identity) {
		tok, err := server.SignLogin(id.Key, id.Code, th.url, clk.Now())
		require.NoError(t, err)
		require.NoError(t, step(ctx, chromedp.Navigate(th.url+"/ui/login#"+tok), chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery)))
	}
	signInAt(th.identity(t, 0))
	var banner, cell string
	require.NoError(t, step(ctx,
		chromedp.Navigate(pageURL(th, "requirements")),
		chromedp.WaitVisible("#calendar-banner", chromedp.ByID),
		chromedp.Text("#calendar-banner", &banner, chromedp.ByID),
		chromedp.WaitVisible("#requirements-table tr.provisional", chromedp.ByQuery),
		chromedp.Text("#requirements-table tr.provisional td:nth-child(3)", &cell, chromedp.ByQuery),
	))
	require.Contains(t, banner, "announced through 2026-12-31 (4 days left)")
	require.Contains(t, banner, "gxctl calendar publish")
	require.Contains(t, cell, "暂定 provisional")
	screenshot(t, ctx, "20-calendar-warning-coordinator")

	// Not the calendar's owner: no banner (the deadline is still marked).
	signInAt(th.identity(t, 4))
	var hidden bool
	require.NoError(t, step(ctx,
		chromedp.Navigate(pageURL(th, "requirements")),
		chromedp.WaitVisible("#requirements-table tr.provisional", chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById("calendar-banner").hidden`, &hidden),
	))
	require.True(t, hidden)
}
