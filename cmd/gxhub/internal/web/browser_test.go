package web_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/ofd"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/sdk/identity"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium (Debian's, installed by .ci/setup.sh). Without it the
// test is skipped loudly, except under CI=true where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("GXHUB_CHROMIUM")
	if path == "" {
		path = chromiumPath
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required under CI=true but %s is missing (.ci/setup.sh installs Debian's chromium): %v", path, err)
		}
		t.Skipf("SKIPPING browser test: %s not found (%v); run .ci/setup.sh or set GXHUB_CHROMIUM", path, err)
	}
	// Not t.TempDir: Chromium's helper processes may still write the profile for a moment
	// after the browser is stopped, so the directory is removed with retries.
	profile, err := os.MkdirTemp("", "gxhub-chromium-")
	require.NoError(t, err)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile), chromedp.WindowSize(1366, 768), // a clerk's laptop
		// The hub's TLS certificate comes from its own transport CA, unknown to this profile.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("lang", "zh-CN"),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for i := 0; i < 50; i++ {
			if err = os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the Chromium profile %s: %v", profile, err)
	})
	require.NoError(t, chromedp.Run(ctx), "start Chromium")
	return ctx
}

// artifacts is where screenshots go: GXHUB_ARTIFACTS, or the test's temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("GXHUB_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	require.NoError(t, step(ctx, chromedp.FullScreenshot(&png, 100)))
	path := filepath.Join(artifacts(t), name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot %s", path)
}

func signIn(t *testing.T, ctx context.Context, th *testHub, id *identity.Identity) {
	t.Helper()
	tok, err := server.SignLogin(id.Key, id.Code, th.url, time.Now())
	require.NoError(t, err)
	var who string
	require.NoError(t, step(ctx,
		chromedp.Navigate(th.url+"/ui/login#"+tok),
		chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
		chromedp.AttributeValue("#who", "data-code", &who, nil, chromedp.ByID),
	))
	require.Equal(t, id.Code, who)
	var url string
	require.NoError(t, step(ctx, chromedp.Location(&url)))
	require.NotContains(t, url, tok, "the token must leave the address bar")
}

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	th := startHub(t, func(c *config.Config) {
		c.AuditHeadInterval = 100 * time.Millisecond
		c.Demo = true // demo catalogue, records and matter
	})
	th.seedAudit(t, 3)
	subject, caseNumber := th.seedPull(t)
	auditor := th.identity(t, 0)
	gjj := th.identity(t, 4)

	t.Run("fail/used link is refused", func(t *testing.T) {
		tok, err := server.SignLogin(auditor.Key, auditor.Code, th.url, time.Now())
		require.NoError(t, err)
		cl := th.client(t)
		require.Equal(t, 200, th.call(t, cl, "POST", "/ui/session", loginBody(tok), true).status)
		var reason string
		require.NoError(t, step(ctx,
			chromedp.Navigate(th.url+"/ui/login#"+tok),
			chromedp.WaitVisible(`#login-status.bad`, chromedp.ByQuery),
			chromedp.AttributeValue("#login-status", "data-reason", &reason, nil, chromedp.ByQuery),
		))
		require.Equal(t, "REQUEST_REPLAYED", reason)
		screenshot(t, ctx, "00-login-replayed")
		// Not signed in: the pages say how to sign in.
		require.NoError(t, step(ctx, chromedp.Navigate(th.url+"/ui/"), chromedp.WaitVisible("#signed-out", chromedp.ByID)))
	})

	// The operator's path: `gxctl --identity DIR web` prints the link; the browser opens it.
	t.Run("sign in with the link gxctl web prints", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "gxctl")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/gxhub/gxhub/cmd/gxctl").CombinedOutput()
		require.NoError(t, err, "%s", out)
		cmd := exec.Command(bin, "--identity", th.dirs[0], "web")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		require.NoError(t, err, "%s", stderr.String())
		link := strings.TrimSpace(string(stdout))
		require.True(t, strings.HasPrefix(link, th.url+"/ui/login#"), "link %q", link)
		require.Contains(t, stderr.String(), "usable once")
		var who string
		require.NoError(t, step(ctx,
			chromedp.Navigate(link),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.Text("#who", &who, chromedp.ByID),
		))
		require.Equal(t, "重庆市大数据应用发展管理局 · 协调、审计", who, "the department by name, its roles in Chinese")
	})
	signIn(t, ctx, th, auditor) // again, so that the rest does not depend on the build
	screenshot(t, ctx, "01-signed-in")

	t.Run("SM3 in the browser matches Go", func(t *testing.T) {
		for _, n := range []int{0, 3, 55, 56, 64, 65, 1000} {
			msg := make([]byte, n)
			_, _ = rand.Read(msg)
			want := sm.Sum(msg)
			var got string
			js := fmt.Sprintf(`GXSM3.hex(GXSM3.sm3(Uint8Array.from(%s)))`, jsBytes(msg))
			require.NoError(t, step(ctx, chromedp.Evaluate(js, &got)))
			require.Equal(t, fmt.Sprintf("%x", want), got, "length %d", n)
		}
	})

	ofdPath := filepath.Join("testdata", "v4signed_gomain_chongqing_tax.ofd")
	orig, err := os.ReadFile(ofdPath)
	require.NoError(t, err)
	tamperedPath := filepath.Join(t.TempDir(), "tampered.ofd")
	content := "Doc_0/Pages/Page_0/Content.xml"
	pkg, err := ofd.Open(orig, ofd.Limits{})
	require.NoError(t, err)
	page, err := pkg.ReadFile(content)
	require.NoError(t, err)
	page = append([]byte(nil), page...)
	page[len(page)/2] ^= 0x01
	tampered, err := ofd.Rebuild(orig, map[string][]byte{content: page})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tamperedPath, tampered, 0o644))

	verifyCases := []struct {
		name, path string
		input      []byte
		shot       string
	}{
		{"vendor OFD (GOMAIN, Chongqing tax)", ofdPath, orig, "02-verify-intact"},
		{"tampered OFD", tamperedPath, tampered, "03-verify-tampered"},
	}
	for _, c := range verifyCases {
		t.Run("verify/"+c.name, func(t *testing.T) {
			// What the library says, independent of the page.
			want, err := verify.Verify(context.Background(), c.input, verify.Options{})
			require.NoError(t, err)
			abs, err := filepath.Abs(c.path)
			require.NoError(t, err)
			var verdict, failed, checks string
			require.NoError(t, step(ctx,
				chromedp.Navigate(pageURL(th, "verify")),
				chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
				chromedp.WaitVisible("#drop", chromedp.ByID),
				chromedp.SetUploadFiles("#file", []string{abs}, chromedp.ByID),
				chromedp.WaitVisible("#verdict", chromedp.ByID),
				chromedp.AttributeValue("#verdict", "data-verdict", &verdict, nil, chromedp.ByID),
				chromedp.Text("#checks", &checks, chromedp.ByID),
				chromedp.Evaluate(`(document.getElementById("failed-checks")||{}).textContent||""`, &failed),
			))
			screenshot(t, ctx, c.shot)
			require.Equal(t, string(want.Verdict), verdict)
			for _, ch := range want.Checks {
				require.Contains(t, checks, ch.Name)
			}
			if want.Verdict != verify.Invalid {
				require.Empty(t, failed)
				require.NotEmpty(t, want.Signed)
			} else {
				require.NotEmpty(t, want.Failed())
				for _, f := range want.Failed() {
					require.Contains(t, failed, f.Name)
				}
			}
		})
	}
	t.Run("verify/the original is intact and the tampered one names the content reference", func(t *testing.T) {
		w, err := verify.Verify(context.Background(), orig, verify.Options{})
		require.NoError(t, err)
		require.Equal(t, verify.Intact, w.Verdict, "signatures hold, the tax CA is not trusted: %s", w.Summary)
		w, err = verify.Verify(context.Background(), tampered, verify.Options{})
		require.NoError(t, err)
		require.NotEmpty(t, w.Find("reference["+content+"]"))
		require.Equal(t, verify.Fail, w.Find("reference[" + content + "]")[0].Status)
	})

	t.Run("verify/a pasted e-certificate renders as verdict and checks", func(t *testing.T) {
		token := th.issueLicence(t)
		var verdict, checks, banner, raw string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "verify")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.SetValue("#token", token, chromedp.ByID),
			chromedp.Click("#verify-token", chromedp.ByID),
			chromedp.WaitVisible("#verdict", chromedp.ByID),
			chromedp.AttributeValue("#verdict", "data-verdict", &verdict, nil, chromedp.ByID),
			chromedp.Text("#verdict", &banner, chromedp.ByID),
			chromedp.Text("#checks", &checks, chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#verify-result pre").length + ""`, &raw),
		))
		screenshot(t, ctx, "03b-verify-ecert")
		require.Equal(t, "VALID", verdict, "the hub's root, its registry and the department's certificate: %s", checks)
		require.True(t, strings.HasPrefix(banner, "✓ 有效"), "Chinese first: %q", banner)
		for _, name := range []string{"ecert.signature", "signer.chain", "signer.revocation", "ecert.status"} {
			require.Contains(t, checks, name)
		}
		require.Equal(t, "0", raw, "no raw JSON dump")
	})

	t.Run("trace with proofs checked in the browser", func(t *testing.T) {
		want := th.countRecords(t, auditor.Code)
		require.Positive(t, want)
		var rows int
		var proofs []string
		var result string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "trace")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#head-size", chromedp.ByID),
			chromedp.SetValue(`#trace-form input[name="department"]`, auditor.Code, chromedp.ByQuery),
			chromedp.Click("#trace-run", chromedp.ByID),
			chromedp.WaitVisible("#trace-table, #trace-empty, #trace-error", chromedp.ByQuery),
			chromedp.Text("#trace-result", &result, chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#trace-table tbody tr").length`, &rows),
			chromedp.Evaluate(`Array.from(document.querySelectorAll("#trace-table .proof")).map(e => e.className)`, &proofs),
		))
		screenshot(t, ctx, "04-trace")
		require.Equal(t, want, rows, "page shows: %s", result)
		for _, p := range proofs {
			require.Contains(t, p, "pass")
		}
		// What the CSV and JSON exports contain.
		var exported []map[string]any
		var csvHeader string
		require.NoError(t, step(ctx,
			chromedp.Evaluate(`exportRows()`, &exported),
			chromedp.Evaluate(`Object.keys(exportRows()[0]).join(",")`, &csvHeader),
		))
		require.Len(t, exported, want)
		for _, r := range exported {
			require.Equal(t, auditor.Code, r["department"])
			require.Equal(t, true, r["proof_verified_in_browser"])
			require.NotEmpty(t, r["proof_tree_size"])
		}
		require.Equal(t, "index,time,kind,department,operator,resource,data_items,matter,case_number,outcome,reason,proof_verified_in_browser,proof_tree_size,proof_problem", csvHeader)
		// The browser's check can fail: a changed leaf no longer reaches the signed root.
		var ok, okTampered bool
		require.NoError(t, step(ctx,
			chromedp.Evaluate(proofCheckJS(false), &ok, awaitPromise),
			chromedp.Evaluate(proofCheckJS(true), &okTampered, awaitPromise),
		))
		require.True(t, ok)
		require.False(t, okTampered)

		// A department that appears in no record finds nothing.
		require.NoError(t, step(ctx,
			chromedp.SetValue(`#trace-form input[name="department"]`, "nobody", chromedp.ByQuery),
			chromedp.Click("#trace-run", chromedp.ByID),
			chromedp.WaitVisible("#trace-empty", chromedp.ByID),
			chromedp.Text("#trace-result", &result, chromedp.ByID),
		))
	})

	t.Run("trace by data subject", func(t *testing.T) {
		th.requireOperation(t, "POST", "/v1/audit/records:search")
		want := th.searchSubject(t, subject)
		require.NotEmpty(t, want)
		var rows int
		var proofs []string
		var result string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "trace")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.SetValue(`#trace-form input[name="subject"]`, subject, chromedp.ByQuery),
			chromedp.Click("#trace-run", chromedp.ByID),
			chromedp.WaitVisible("#trace-table, #trace-empty, #trace-error", chromedp.ByQuery),
			chromedp.Text("#trace-result", &result, chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#trace-table tbody tr").length`, &rows),
			chromedp.Evaluate(`Array.from(document.querySelectorAll("#trace-table .proof")).map(e => e.className)`, &proofs),
		))
		screenshot(t, ctx, "05-trace-subject")
		// The search just made through the API names the subject, so it is a record of its
		// own that the page's search finds (the page's search is recorded after it is read).
		require.Equal(t, len(want)+1, rows, "page shows: %s", result)
		require.Contains(t, result, caseNumber)
		require.Contains(t, result, gjj.Name, "departments by name")
		require.NotContains(t, result, subject, "the page shows no ID number in the records")
		for _, p := range proofs {
			require.Contains(t, p, "pass")
		}
	})

	t.Run("freshness dashboard", func(t *testing.T) {
		th.requireOperation(t, "GET", "/v1/freshness")
		want := th.freshness(t)
		require.NotEmpty(t, want)
		var rows int
		var summary string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "freshness")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#freshness-table", chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#freshness-table tbody tr").length`, &rows),
			chromedp.Text("#freshness-summary", &summary, chromedp.ByID),
		))
		screenshot(t, ctx, "06-freshness")
		require.Equal(t, len(want), rows)
		stale := 0
		for _, r := range want {
			if r.GetStale() {
				stale++
			}
		}
		require.Contains(t, summary, fmt.Sprintf("共 %d 个资源，逾期 %d 个", len(want), stale))
	})

	t.Run("catalogue", func(t *testing.T) {
		th.requireOperation(t, "GET", "/v1/resources")
		var text string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "catalog")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#catalog-table", chromedp.ByID),
			chromedp.Text("#catalog-table", &text, chromedp.ByID),
		))
		screenshot(t, ctx, "07-catalog")
		require.Contains(t, text, "500000-GA-0001")
		require.Contains(t, text, "户籍人口信息")
		require.Contains(t, text, "《中华人民共和国居民身份证法》第三条第三款、第六条第三款（法律）", "a not-shared resource shows the readable citation of its legal basis")
	})

	t.Run("who used my data (department acting for the holder)", func(t *testing.T) {
		th.requireOperation(t, "POST", "/v1/audit/subject-usage")
		var result string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "mydata")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.SetValue(`#mydata-form input[name="subject"]`, subject, chromedp.ByQuery),
			chromedp.SetValue(`#mydata-form input[name="holder_reference"]`, "窗口核验 CK-2026-0001", chromedp.ByQuery),
			chromedp.Click("#mydata-run", chromedp.ByID),
			chromedp.WaitVisible("#mydata-table, #mydata-none, #mydata-error", chromedp.ByQuery),
			chromedp.Text("#mydata-result", &result, chromedp.ByID),
		))
		screenshot(t, ctx, "08-mydata")
		require.Contains(t, result, "记入审计日志", result)
		require.Contains(t, result, gjj.Name)
		require.Contains(t, result, "已提供：依据已批准的数据需求提供", "the outcome as a sentence")
		require.Contains(t, result, "姓名", "data items by their titles")
		require.Contains(t, result, caseNumber)
		require.Contains(t, result, "500000-GJJ-0001")
		// The lookup itself is audited.
		require.NotEmpty(t, th.searchKind(t, "subject.usage"))
	})

	// What a clerk sees on every page: Chinese words, no codes or API paths, one header
	// row at 1366×768, times in Beijing time saying so. Screenshots of each page at
	// 1366×768 go to GXHUB_WEB_DOC_SHOTS (docs/web for docs/WEB.md) when it is set.
	t.Run("clerk pages", func(t *testing.T) {
		pages := []struct {
			hash, ready, shot string
			times             bool
			act               []chromedp.Action
		}{
			{"trace", "#trace-table", "trace", true, []chromedp.Action{
				chromedp.WaitVisible("#head-size", chromedp.ByID),
				chromedp.SetValue(`#trace-form input[name="case_number"]`, caseNumber, chromedp.ByQuery),
				chromedp.Click("#trace-run", chromedp.ByID)}},
			{"catalog", "#dept-table", "catalog", false, nil},
			{"freshness", "#freshness-table", "freshness", true, nil},
			{"mydata", "#mydata-table", "mydata", true, []chromedp.Action{
				chromedp.SetValue(`#mydata-form input[name="subject"]`, subject, chromedp.ByQuery),
				chromedp.SetValue(`#mydata-form input[name="holder_reference"]`, "窗口核验 CK-2026-0002", chromedp.ByQuery),
				chromedp.Click("#mydata-run", chromedp.ByID)}},
			{"requirements", "#requirements-table", "requirements", false, nil},
			{"verify", "#drop", "verify", false, nil},
		}
		for _, pg := range pages {
			actions := []chromedp.Action{chromedp.Navigate(pageURL(th, pg.hash)), chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery)}
			actions = append(actions, pg.act...)
			actions = append(actions, chromedp.WaitVisible(pg.ready, chromedp.ByQuery))
			var view struct {
				Text         string  `json:"text"`
				HeaderHeight float64 `json:"headerHeight"`
				NavTops      []int   `json:"navTops"`
				Overflow     bool    `json:"overflow"`
			}
			actions = append(actions, chromedp.Evaluate(`(() => {
  const page = document.querySelector(".page:not([hidden])");
  const text = document.querySelector("header.top").innerText + "\n" + (page.id === "page-verify" ? "" : page.innerText) + "\n" + document.querySelector("footer").innerText;
  const h = document.querySelector("header.top");
  return { text, headerHeight: h.getBoundingClientRect().height,
    navTops: Array.from(document.querySelectorAll("#nav a, .brand, #who")).map((e) => Math.round(e.getBoundingClientRect().top)),
    overflow: h.scrollWidth > h.clientWidth + 1 };
})()`, &view))
			require.NoError(t, step(ctx, actions...), pg.hash)
			docShot(t, ctx, pg.shot)
			require.Less(t, view.HeaderHeight, 56.0, "%s: the header is one row at 1366×768", pg.hash)
			for _, top := range view.NavTops {
				require.InDelta(t, view.NavTops[0], top, 12, "%s: brand, navigation and department on one row: %v", pg.hash, view.NavTops)
			}
			require.False(t, view.Overflow, "%s: nothing of the header is cut off", pg.hash)
			for _, bad := range []string{"ROLE_", "LEVEL_", "/v1/", "Source", "来源", "SHARE_TYPE", "conditional", "never_published", "not_shared"} {
				require.NotContains(t, view.Text, bad, "%s shows developer text", pg.hash)
			}
			require.NotRegexp(t, `\b[A-Z]{2,}(_[A-Z]+)+\b`, view.Text, "%s shows a reason or enum code", pg.hash)
			require.NotRegexp(t, `\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`, view.Text, "%s shows a raw timestamp", pg.hash)
			require.NotRegexp(t, `\d+\.\d{3,}s\b`, view.Text, "%s shows an unrounded duration", pg.hash)
			if pg.times {
				require.Regexp(t, `\d{4}-\d{2}-\d{2} \d{2}:\d{2}`, view.Text, "%s shows times", pg.hash)
				require.Contains(t, view.Text, "北京时间", "%s says the zone of its times", pg.hash)
			}
		}
		// Codes stay available on hover: the department's name carries its code.
		var hover string
		require.NoError(t, step(ctx, chromedp.Navigate(pageURL(th, "catalog")), chromedp.WaitVisible("#catalog-table", chromedp.ByID),
			chromedp.AttributeValue("#catalog-table .dept", "title", &hover, nil, chromedp.ByQuery)))
		require.Regexp(t, `^统一社会信用代码 [0-9A-Z]{18}$`, hover)
	})

	t.Run("pages without their APIs say so", func(t *testing.T) {
		var notices map[string]string
		require.NoError(t, step(ctx,
			chromedp.Navigate(pageURL(th, "verify")),
			chromedp.WaitVisible(`body[data-ready="1"]`, chromedp.ByQuery),
			chromedp.Evaluate(`(async () => {
  state.ops = [];
  loaders.verify(); loaders.mydata();
  await loaders.freshness(); await loaders.catalog(); await loaders.trace();
  const out = {};
  for (const id of ["verify-api", "token-api", "trace-api", "catalog-api", "freshness-api", "mydata-api"]) out[id] = document.getElementById(id).textContent;
  out.tokenButton = String(document.getElementById("verify-token").disabled);
  out.mydataButton = String(document.getElementById("mydata-run").disabled);
  return out;
})()`, &notices, awaitPromise),
		))
		for _, id := range []string{"verify-api", "token-api", "trace-api", "catalog-api", "freshness-api", "mydata-api"} {
			require.Contains(t, notices[id], "尚无", "%s: %s", id, notices[id])
			require.Contains(t, notices[id], "no ", "%s: %s", id, notices[id])
		}
		require.Equal(t, "true", notices["tokenButton"])
		require.Equal(t, "true", notices["mydataButton"])
		screenshot(t, ctx, "09-no-api")
	})

	t.Run("sign out", func(t *testing.T) {
		require.NoError(t, step(ctx,
			chromedp.Navigate(th.url+"/ui/"),
			chromedp.WaitVisible("#logout", chromedp.ByID),
			chromedp.Click("#logout", chromedp.ByID),
			chromedp.WaitVisible("#login-status", chromedp.ByID),
			chromedp.Navigate(th.url+"/ui/"),
			chromedp.WaitVisible("#signed-out", chromedp.ByID),
		))
		// Signed out: a plain sentence saying what to do, the technical detail folded.
		var text string
		require.NoError(t, step(ctx, chromedp.Evaluate(`document.getElementById("signed-out").innerText`, &text)))
		docShot(t, ctx, "signed-out")
		require.Contains(t, text, "gxctl --identity 部门身份目录 web")
		require.NotContains(t, text, "REQUEST_UNSIGNED")
		require.NotContains(t, text, "Authorization")
	})
}

// docShot saves what the window shows (1366×768) as docs/WEB.md's picture of a page, when
// GXHUB_WEB_DOC_SHOTS names the directory (make web-shots: docs/web).
func docShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("GXHUB_WEB_DOC_SHOTS")
	if dir == "" {
		screenshot(t, ctx, "page-"+name)
		return
	}
	var png []byte
	require.NoError(t, step(ctx, chromedp.CaptureScreenshot(&png)))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	t.Logf("page screenshot %s", filepath.Join(dir, name+".png"))
}

// step runs browser actions with a time limit, so that a page that never shows what a
// step waits for fails that step instead of the whole test's budget.
func step(ctx context.Context, actions ...chromedp.Action) error {
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	return chromedp.Run(sctx, actions...)
}

var pageSeq int

// pageURL loads the page afresh (a new query string), so that every step starts from a
// full document load rather than a same-document hash change.
func pageURL(th *testHub, hash string) string {
	pageSeq++
	return fmt.Sprintf("%s/ui/?n=%d#%s", th.url, pageSeq, hash)
}

func awaitPromise(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams {
	return p.WithAwaitPromise(true)
}

// proofCheckJS fetches record 0's proof and verifies it in the page, optionally after
// changing one byte of the leaf.
func proofCheckJS(tamper bool) string {
	return fmt.Sprintf(`(async () => {
  const p = await api("GET", "/v1/audit/records/0/proof");
  const leaf = GXSM3.b64(p.leaf);
  if (%v) leaf[leaf.length - 1] ^= 1;
  return GXSM3.verifyInclusion(Number(p.index), Number(p.head.tree_size), leaf, (p.hashes || []).map(GXSM3.b64), GXSM3.b64(p.head.root_hash)).ok;
})()`, tamper)
}

func jsBytes(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprint(&sb, x)
	}
	sb.WriteByte(']')
	return sb.String()
}
