package hub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// FuzzRESTBody sends arbitrary JSON bodies, correctly signed, to the JSON endpoints of a
// running hub (SQLite, demo-like data) and checks the answer: never a server error, never
// a crash, and every refusal a JSON error with a reason and a message.
//
//	go test -run '^$' -fuzz '^FuzzRESTBody$' -fuzztime 10m -parallel 1 ./cmd/gxhub/internal/hub/
func FuzzRESTBody(f *testing.F) {
	dh := startDataHub(f, cst("2026-03-02 09:00"))
	subject := storetest.IDNumber(21)
	dh.publish(f, "batch-1", subject)
	dh.clock.Set(time.Now()) // nonces expire by the wall clock
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(dh.yubei.TLSCAPEM) {
		f.Fatal("hub TLS CA")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	type endpoint struct {
		method, path string
		as           *identity.Identity
	}
	endpoints := []endpoint{
		{"POST", "/v1/pulls", dh.yubei},
		{"POST", "/v1/requirements", dh.yubei},
		{"POST", "/v1/resources/" + dh.resource + "/records:publish", dh.police},
		{"POST", "/v1/resources", dh.police},
		{"PUT", "/v1/resources/" + dh.resource, dh.police},
		{"POST", "/v1/requirements/" + dh.granted + ":decide", dh.coordinator},
		{"POST", "/v1/freshness/" + dh.resource + ":heartbeat", dh.police},
		{"POST", "/v1/matters", dh.coordinator},
		{"POST", "/v1/departments", dh.coordinator},
		{"POST", "/v1/policy:change", dh.coordinator},
		{"POST", "/v1/objections", dh.yubei},
		{"POST", "/v1/audit/records:search", dh.coordinator},
		{"POST", "/v1/audit/subject-usage", dh.coordinator},
		{"POST", "/v1/ecert-presentations:verify", dh.yubei},
		{"POST", "/v1/verify:batch", dh.yubei},
	}
	seeds := []string{
		`{}`, `[]`, `null`, `{"":""}`, `{"subjects":[1,2]}`,
		`{"requirement_id":"` + dh.granted + `","matter_code":"500000-0001-XK","case_number":"C-1","subjects":["` + subject + `"]}`,
		`{"resource":"` + dh.resource + `","provider":"` + dh.police.Code + `","items":["name"],"matter_codes":["500000-0001-XK"],"legal_duty":"《重庆市政务数据资源管理暂行办法》","scope_region":"500000"}`,
		`{"batch_id":"b-2","changes":[{"op":"CHANGE_OP_UPSERT","subject":"` + subject + `","fields":{"name":"张三"}}]}`,
		`{"action":"DECISION_ACTION_REVOKE","legal_basis":"x"}`,
		`{"subject":"` + subject + `","page_size":5}`,
	}
	for i := range endpoints {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := endpoints[int(which)%len(endpoints)]
		h, err := reqsig.Sign(e.as.Key, e.as.Code, e.method, e.path, body, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, e.method, dh.yubei.HubURL+e.path, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", h)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", e.method, e.path, err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d %s", e.method, e.path, body, resp.StatusCode, raw)
		}
		if resp.StatusCode >= 400 {
			var out struct{ Reason, Message string }
			if err := json.Unmarshal(raw, &out); err != nil || out.Reason == "" || out.Message == "" {
				t.Fatalf("%s %s with %q: %d and an error without reason or message: %s", e.method, e.path, body, resp.StatusCode, raw)
			}
		}
	})
}
