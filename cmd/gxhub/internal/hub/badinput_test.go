package hub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/policy"
	"github.com/gxhub/gxhub/sdk/api/openapi"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// rowCounts counts the rows of every table of the hub's SQLite file (opened read-only),
// except request_nonces: a nonce is recorded for every request whose signature verified,
// by design, so that the request cannot be replayed.
func rowCounts(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, sqlite.FileName)+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'request_nonces'`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Greater(t, len(tables), 10, "the store's tables")
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM "`+tb+`"`).Scan(&n))
		out[tb] = n
	}
	return out
}

// indexed brings the audit index up to the log (it follows in the background), so that
// row counts taken before and after a request compare like with like.
func (dh *dataHub) indexed(t testing.TB) {
	t.Helper()
	_, err := dh.h.Audit.Index.Backfill(context.Background())
	require.NoError(t, err)
}

// restProbe sends raw REST requests to a data hub and decodes the JSON answer.
type restProbe struct {
	dh *dataHub
	hc *http.Client
}

func newRESTProbe(t testing.TB, dh *dataHub) *restProbe {
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(dh.yubei.TLSCAPEM))
	return &restProbe{dh: dh, hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// send sends the request (header "" leaves it unsigned) and returns the status and the
// decoded JSON body, which must be JSON.
func (rp *restProbe) send(t testing.TB, method, path, header string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, rp.dh.yubei.HubURL+path, strings.NewReader(string(body)))
	require.NoError(t, err)
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := rp.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "the body must be JSON: %s", raw)
	return resp.StatusCode, out
}

// sign returns the Authorization header of the request signed by id at the time given.
func (rp *restProbe) sign(t testing.TB, id *identity.Identity, at time.Time, method, path string, body []byte) string {
	h, err := reqsig.Sign(id.Key, id.KeyID(), method, path, body, at)
	require.NoError(t, err)
	return h
}

// badInput is one refused request and what the refusal must say.
type badInput struct {
	method, path string
	body         []byte
	// sign returns the Authorization header ("" sends the request unsigned).
	sign   func(method, path string, body []byte) string
	status int
	reason string
	fix    string // the message names what to fix
	// deniedBy: the refusal is a pull (or, with deniedKind, a requirement filing) by this
	// department, refused after authentication, which is audited by design (one denied
	// record naming the reason); every other refusal writes nothing.
	deniedBy   string
	deniedKind ledger.Kind
}

// TestBadInput sends malformed, oversized, unsigned, wrongly signed, replayed, expired,
// foreign, unknown and out-of-range requests to the REST API of a running hub (SQLite) and
// checks each is refused with a specific status, reason and message, and that nothing was
// written: every store table's row count and the audit log are unchanged (a refused pull
// adds exactly one denied audit record, by design).
func TestBadInput(t *testing.T) {
	// No signed head is published in the background while row counts are compared.
	dh := startDataHub(t, cst("2026-03-02 09:00"), func(c *config.Config) { c.AuditHeadInterval = time.Hour })
	subject := storetest.IDNumber(21)
	dh.publish(t, "batch-1", subject)
	dh.openCase(t, "C-1", matter1, subject)
	// From here the hub runs on the wall clock: nonces expire by it.
	dh.clock.Set(time.Now())
	now := dh.clock.Now

	rp := newRESTProbe(t, dh)
	as := func(id *identity.Identity, at func() time.Time) func(string, string, []byte) string {
		return func(method, path string, body []byte) string { return rp.sign(t, id, at(), method, path, body) }
	}
	unsigned := func(string, string, []byte) string { return "" }
	otherKey, err := sm.GenerateKey()
	require.NoError(t, err)
	wrongKey := as(&identity.Identity{Code: dh.yubei.Code, Key: otherKey}, now)
	// 渝北's key claiming to be 公安局: another department's identity.
	impostor := as(&identity.Identity{Code: dh.police.Code, Key: dh.yubei.Key}, now)
	expired := as(dh.yubei, func() time.Time { return now().Add(-10 * time.Minute) })
	police, yubei, coordinator := as(dh.police, now), as(dh.yubei, now), as(dh.coordinator, now)
	auditor := coordinator // 大数据局 holds the coordinator and auditor roles

	// replay: the first use of the header is refused for its body (nothing written), its
	// second use for the replay.
	replayBody := []byte(`{"requirement_id":"` + dh.granted + `","matter_code":"500000-0001-XK","case_number":"R-1","subjects":[]}`)
	replayHeader := yubei("POST", "/v1/pulls", replayBody)
	code, out := rp.send(t, "POST", "/v1/pulls", replayHeader, replayBody)
	require.Equal(t, http.StatusBadRequest, code, "%v", out)
	replayed := func(string, string, []byte) string { return replayHeader }

	pull := func(fields string) []byte {
		return []byte(`{"requirement_id":"` + dh.granted + `","matter_code":"500000-0001-XK","case_number":"C-1","subjects":["` + subject + `"]` + fields + `}`)
	}
	publishPath := "/v1/resources/" + dh.resource + "/records:publish"
	publish := func(batch, subj string) []byte {
		return []byte(`{"batch_id":"` + batch + `","changes":[{"op":"CHANGE_OP_UPSERT","subject":"` + subj + `","fields":{"name":"张三"}}]}`)
	}
	requirement := []byte(`{"resource":"` + dh.resource + `","provider":"` + dh.police.Code + `","items":["name"],"matter_codes":["500000-0001-XK"],"legal_duty":"《重庆市政务数据资源管理暂行办法》","scope_region":"500000"}`)
	oversized := []byte(`{"name":"big.bin","data":"` + strings.Repeat("A", 8<<20) + `"}`)

	cases := map[string]badInput{
		// Pulls.
		"pull/malformed JSON":                         {"POST", "/v1/pulls", []byte(`{"requirement_id":`), yubei, 400, server.ReasonRequestMalformed, "JSON", "", ""},
		"pull/unknown field":                          {"POST", "/v1/pulls", pull(`,"subject_ids":["x"]`), yubei, 400, server.ReasonRequestMalformed, "subject_ids", "", ""},
		"pull/unsigned":                               {"POST", "/v1/pulls", pull(""), unsigned, 401, reqsig.ReasonUnsigned, "sign", "", ""},
		"pull/wrong key":                              {"POST", "/v1/pulls", pull(""), wrongKey, 401, reqsig.ReasonBadSignature, "key", "", ""},
		"pull/another's identity":                     {"POST", "/v1/pulls", pull(""), impostor, 401, reqsig.ReasonBadSignature, dh.police.Code, "", ""},
		"pull/replayed":                               {"POST", "/v1/pulls", replayBody, replayed, 401, reqsig.ReasonReplayed, "nonce", "", ""},
		"pull/expired":                                {"POST", "/v1/pulls", pull(""), expired, 401, reqsig.ReasonExpired, "clock", "", ""},
		"pull/unknown requirement":                    {"POST", "/v1/pulls", []byte(`{"requirement_id":"REQ-NOPE","matter_code":"500000-0001-XK","case_number":"C-1","subjects":["` + subject + `"]}`), yubei, 404, "REQUIREMENT_NOT_FOUND", "REQ-NOPE", dh.yubei.Code, ""},
		"pull/another's requirement":                  {"POST", "/v1/pulls", []byte(`{"requirement_id":"` + dh.other + `","matter_code":"500000-0001-XK","case_number":"C-1","subjects":["` + subject + `"]}`), yubei, 403, policy.ReasonRequirementForeign, dh.other, dh.yubei.Code, ""},
		"pull/invalid subject":                        {"POST", "/v1/pulls", []byte(`{"requirement_id":"` + dh.granted + `","matter_code":"500000-0001-XK","case_number":"C-1","subjects":["500112199001010000"]}`), yubei, 400, "SUBJECT_INVALID", "500112199001010000", dh.yubei.Code, ""},
		"pull/another's requirement, as its provider": {"POST", "/v1/pulls", pull(""), police, 403, policy.ReasonRequirementForeign, dh.yubei.Code, dh.police.Code, ""},

		// Publishing records.
		"publish/malformed JSON":   {"POST", publishPath, []byte(`{"batch_id":1}`), police, 400, server.ReasonRequestMalformed, "batchId", "", ""},
		"publish/unknown field":    {"POST", publishPath, []byte(`{"batch_id":"b-x","rows":[]}`), police, 400, server.ReasonRequestMalformed, "rows", "", ""},
		"publish/unsigned":         {"POST", publishPath, publish("b-u", subject), unsigned, 401, reqsig.ReasonUnsigned, "sign", "", ""},
		"publish/wrong key":        {"POST", publishPath, publish("b-w", subject), as(&identity.Identity{Code: dh.police.Code, Key: otherKey}, now), 401, reqsig.ReasonBadSignature, "key", "", ""},
		"publish/another's data":   {"POST", publishPath, publish("b-y", subject), yubei, 403, "ROLE_REQUIRED", "provider", "", ""},
		"publish/unknown resource": {"POST", "/v1/resources/500000-NOPE-0001/records:publish", publish("b-n", subject), police, 404, "RESOURCE_NOT_FOUND", "500000-NOPE-0001", "", ""},
		"publish/invalid subject":  {"POST", publishPath, publish("b-s", "500112199001010000"), police, 400, "SUBJECT_INVALID", "500112199001010000", "", ""},
		"publish/expired":          {"POST", publishPath, publish("b-e", subject), as(dh.police, func() time.Time { return now().Add(10 * time.Minute) }), 401, reqsig.ReasonExpired, "clock", "", ""},

		// Requirements.
		"requirement/malformed JSON":   {"POST", "/v1/requirements", []byte(`[1,2]`), yubei, 400, server.ReasonRequestMalformed, "JSON", "", ""},
		"requirement/unknown resource": {"POST", "/v1/requirements", []byte(strings.Replace(string(requirement), dh.resource, "500000-NOPE-0002", 1)), yubei, 404, "RESOURCE_NOT_FOUND", "500000-NOPE-0002", "", ""},
		"requirement/own resource":     {"POST", "/v1/requirements", requirement, police, 400, "REQUIREMENT_OWN_RESOURCE", "no requirement is needed", dh.police.Code, ledger.KindRequirementDecision},
		"requirement/unknown decision": {"POST", "/v1/requirements/REQ-NOPE:decide", []byte(`{"action":"grant"}`), police, 404, "REQUIREMENT_NOT_FOUND", "REQ-NOPE", "", ""},

		// Departments.
		"department/unknown field":     {"POST", "/v1/departments", []byte(`{"department":{"code":"x","colour":"red"}}`), coordinator, 400, server.ReasonRequestMalformed, "colour", "", ""},
		"department/bad code":          {"POST", "/v1/departments", []byte(`{"department":{"code":"123","name":"x","level":"LEVEL_COUNTY","region":"500112"},"public_key_pem":"x"}`), coordinator, 400, "DEPARTMENT_CODE_INVALID", "123", "", ""},
		"department/not a coordinator": {"POST", "/v1/departments", []byte(`{}`), yubei, 403, "ROLE_REQUIRED", "coordinator", "", ""},
		"department/unknown":           {"GET", "/v1/departments/" + hubCode(t, "500112", "66666666"), nil, yubei, 404, "DEPARTMENT_NOT_FOUND", hubCode(t, "500112", "66666666"), "", ""},

		// Verification.
		"verify/oversized body": {"POST", "/v1/verify", oversized, yubei, 413, "BODY_TOO_LARGE", "split", "", ""},
		"verify/empty":          {"POST", "/v1/verify", []byte(`{}`), yubei, 400, "INPUT_EMPTY", "content", "", ""},
		"verify/not base64":     {"POST", "/v1/verify", []byte(`{"name":"a.ofd","content":"%%%"}`), yubei, 400, server.ReasonRequestMalformed, "content", "", ""},

		// Dates out of range.
		"calendar/unannounced year": {"GET", "/v1/calendar/days/2101-05-01", nil, unsigned, 400, "CALENDAR_YEAR_NOT_ANNOUNCED", "gxctl calendar publish", "", ""},
		"calendar/no such day":      {"GET", "/v1/calendar/days/2026-02-30", nil, unsigned, 400, "DATE_INVALID", "2026-02-30", "", ""},
		"audit/from after to":       {"GET", "/v1/audit/records?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", nil, auditor, 400, "TIME_RANGE_INVALID", "must be before", "", ""},
		"audit/unknown record":      {"GET", "/v1/audit/records/999999", nil, auditor, 404, "AUDIT_NOT_FOUND", "999999", "", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dh.indexed(t)
			rowsBefore := rowCounts(t, dh.h.Config.DataDir)
			auditBefore := dh.auditSize(t)
			if tc.sign == nil {
				t.Fatal("no signer")
			}
			code, out := rp.send(t, tc.method, tc.path, tc.sign(tc.method, tc.path, tc.body), tc.body)
			require.Equal(t, tc.status, code, "%v", out)
			require.Equal(t, tc.reason, out["reason"], "%v", out)
			msg, _ := out["message"].(string)
			require.Contains(t, strings.ToLower(msg), strings.ToLower(tc.fix), "the message says what to fix")
			dh.indexed(t)
			rowsAfter := rowCounts(t, dh.h.Config.DataDir)
			added := dh.auditFrom(t, auditBefore)
			if tc.deniedBy != "" {
				// The log grows by the one denied record (its bundle and tile rows change with
				// it: a new fragment, or fragments merged into a full tile).
				require.Len(t, added, 1, "the denied record")
				require.Equal(t, rowsBefore["audit_index"]+1, rowsAfter["audit_index"])
				// The refused request itself is kept as the record's evidence (E5).
				require.Equal(t, rowsBefore["request_evidence"]+1, rowsAfter["request_evidence"])
				for _, tb := range []string{"ledger_bundles", "ledger_tiles", "audit_index", "request_evidence"} {
					rowsBefore[tb], rowsAfter[tb] = 0, 0
				}
			}
			require.Equal(t, rowsBefore, rowsAfter, "a refused request writes nothing to the store")
			if tc.deniedBy == "" {
				require.Empty(t, added, "a refused request writes nothing to the audit log")
				return
			}
			require.Len(t, added, 1, "a denied pull is audited once")
			r := added[0].Record
			kind := tc.deniedKind
			if kind == "" {
				kind = ledger.KindPull
			}
			require.Equal(t, kind, r.Kind)
			require.Equal(t, ledger.OutcomeDenied, r.Outcome)
			require.Equal(t, tc.deniedBy, r.Department)
			require.True(t, strings.HasPrefix(r.Reason, tc.reason+": "), r.Reason)
			require.Len(t, r.RequestDigest, 32, "the denied record commits to the refused request")
		})
	}
}

// TestBadInputEveryRoute sweeps every route of the OpenAPI document (the REST face of every
// RPC): each non-public route refuses an unsigned request (401 REQUEST_UNSIGNED); each
// route with a body refuses truncated JSON and an unknown field (400 REQUEST_MALFORMED);
// each route with path parameters answers unknown ids with a 4xx that has a reason and a
// message. None of these writes a row or an audit record.
func TestBadInputEveryRoute(t *testing.T) {
	dh := startDataHub(t, cst("2026-03-02 09:00"), func(c *config.Config) { c.AuditHeadInterval = time.Hour })
	dh.clock.Set(time.Now())
	rp := newRESTProbe(t, dh)
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openapi.Spec, &spec))
	param := regexp.MustCompile(`\{[^}]+\}`)
	type probe struct {
		name, method, path string
		signed             bool
		body               string
		status             int
		reason             string
	}
	var probes []probe
	for tmpl, ops := range spec.Paths {
		path := param.ReplaceAllString(tmpl, "NOPE-404")
		for m := range ops {
			method := strings.ToUpper(m)
			hasBody := method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
			if !server.IsPublicREST(method, path) {
				probes = append(probes, probe{"unsigned", method, path, false, "{}", http.StatusUnauthorized, "REQUEST_UNSIGNED"})
			}
			if hasBody {
				probes = append(probes,
					probe{"truncated JSON", method, path, true, `{"a":`, http.StatusBadRequest, "REQUEST_MALFORMED"},
					probe{"unknown field", method, path, true, `{"no_such_field_gx":1}`, http.StatusBadRequest, "REQUEST_MALFORMED"})
			} else if tmpl != path {
				probes = append(probes, probe{"unknown id", method, path, true, "", 0, ""})
			}
		}
	}
	require.Greater(t, len(probes), 100, "every route of the OpenAPI document is probed")
	sort.Slice(probes, func(i, j int) bool {
		return probes[i].method+probes[i].path+probes[i].name < probes[j].method+probes[j].path+probes[j].name
	})
	for _, p := range probes {
		t.Run(p.method+" "+p.path+"/"+p.name, func(t *testing.T) {
			dh.indexed(t)
			rowsBefore, auditBefore := rowCounts(t, dh.h.Config.DataDir), dh.auditSize(t)
			header := ""
			if p.signed {
				header = rp.sign(t, dh.coordinator, time.Now(), p.method, p.path, []byte(p.body))
			}
			code, out := rp.send(t, p.method, p.path, header, []byte(p.body))
			reason, _ := out["reason"].(string)
			msg, _ := out["message"].(string)
			if p.status != 0 {
				require.Equal(t, p.status, code, "%v", out)
				require.Equal(t, p.reason, reason, "%v", out)
			} else {
				require.True(t, code >= 400 && code < 500, "an unknown id is a 4xx, got %d %v", code, out)
				require.NotEmpty(t, reason, "%v", out)
			}
			require.NotEmpty(t, msg, "the refusal says what to fix")
			dh.indexed(t)
			require.Equal(t, rowsBefore, rowCounts(t, dh.h.Config.DataDir), "a refused request writes nothing to the store")
			require.Equal(t, auditBefore, dh.auditSize(t), "a refused request writes nothing to the audit log")
		})
	}
}
