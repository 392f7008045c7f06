package hub_test

import (
	"testing"
	"time"

	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/sdk/identity"
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
	rp := newRESTProbe(f, dh)
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
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := endpoints[int(which)%len(endpoints)]
		// rp.send fails the run if the answer is not JSON.
		code, out := rp.send(t, e.method, e.path, rp.sign(t, e.as, time.Now(), e.method, e.path, body), body)
		if code >= 500 {
			t.Fatalf("%s %s with %q: %d %v", e.method, e.path, body, code, out)
		}
		if code >= 400 {
			if reason, _ := out["reason"].(string); reason == "" {
				t.Fatalf("%s %s with %q: %d without a reason: %v", e.method, e.path, body, code, out)
			}
			if msg, _ := out["message"].(string); msg == "" {
				t.Fatalf("%s %s with %q: %d without a message: %v", e.method, e.path, body, code, out)
			}
		}
	})
}
