package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// TestBrowserCounterVerification: the counter clerk of 住房公积金管理中心 checks what 张建国
// declared against 公安局's register on the 申报核验 page: one outcome per item, in Chinese,
// and no registered value anywhere in the page or in the answer the page received.
func TestBrowserCounterVerification(t *testing.T) {
	ctx := browser(t)
	th := startHub(t, func(c *config.Config) { c.Demo = true })
	police, gjj := th.identity(t, 2), th.identity(t, 4)
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := &exchange.Requirement{ID: "REQ-WEB-V", Consumer: gjj.Code, Provider: police.Code, Resource: "500000-GA-0001", Items: []string{"name", "household_address"},
		MatterCodes: []string{"500000-GJJ-0001"}, LegalDuty: "《住房公积金管理条例》", ScopeRegion: "500000", VerifyOnly: true,
		State: exchange.ReqGranted, CreatedAt: now, UpdatedAt: now,
		Decisions: []exchange.Decision{{Seq: 1, Action: exchange.ActSubmit, By: gjj.Code, At: now}, {Seq: 2, Action: exchange.ActGrant, By: police.Code, At: now}}}
	require.NoError(t, th.h.Store.Requirements().Create(context.Background(), r))
	subject := "50011219850312001" + string(exchange.IDNumberCheckChar("50011219850312001"))
	c, err := sdk.Dial(context.Background(), gjj)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Cases.OpenCase(context.Background(), &exchangev1.OpenCaseRequest{Number: "GJJ-2026-000077", Matter: "500000-GJJ-0001", Applicant: subject})
	require.NoError(t, err)

	signIn(t, ctx, th, gjj)
	var result, html, answer string
	var header struct {
		Height   float64 `json:"height"`
		Overflow bool    `json:"overflow"`
	}
	require.NoError(t, step(ctx,
		chromedp.Navigate(pageURL(th, "check")),
		chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#check-items input[data-item="household_address"]`, chromedp.ByQuery),
		chromedp.SetValue("#check-req", "REQ-WEB-V", chromedp.ByID),
		chromedp.SetValue(`#check-form input[name="case_number"]`, "GJJ-2026-000077", chromedp.ByQuery),
		chromedp.SetValue(`#check-form input[name="subject"]`, subject, chromedp.ByQuery),
		chromedp.SetValue(`#check-items input[data-item="name"]`, "张 建国", chromedp.ByQuery),
		chromedp.SetValue(`#check-items input[data-item="household_address"]`, "重庆市江北区观音桥街道1号", chromedp.ByQuery),
		chromedp.Click("#check-run", chromedp.ByID),
		chromedp.WaitVisible("#check-table, #check-error", chromedp.ByQuery),
		chromedp.Text("#check-result", &result, chromedp.ByID),
		chromedp.OuterHTML("html", &html, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const h = document.querySelector("header.top"); return { height: h.getBoundingClientRect().height, overflow: h.scrollWidth > h.clientWidth + 1 }; })()`, &header),
		chromedp.Evaluate(`api("POST", "/v1/verifications", JSON.stringify({requirement_id: "REQ-WEB-V", matter_code: "500000-GJJ-0001", case_number: "GJJ-2026-000077",
  subject: "`+subject+`", claims: {household_address: "x"}}), {"Content-Type": "application/json"}).then((r) => JSON.stringify(r))`, &answer, awaitPromise),
	))
	screenshot(t, ctx, "10-check")
	require.Contains(t, result, "姓名", "items by their titles")
	require.Contains(t, result, "户籍地址")
	require.Contains(t, result, "一致")
	require.Contains(t, result, "不一致")
	require.Contains(t, result, "记入审计日志")
	for _, registered := range []string{"龙溪街道", "金龙路88号"} {
		require.NotContains(t, html, registered, "the page never holds a registered value")
		require.NotContains(t, answer, registered, "the answer the page receives holds no registered value")
	}
	require.Contains(t, answer, `"outcome":"mismatch"`)
	require.Less(t, header.Height, 56.0, "the header is one row at 1366×768 with the new page in it")
	require.False(t, header.Overflow)
}
