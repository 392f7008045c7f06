package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// subscriptionRequirement stores 渝北's granted requirement on the test resource (items
// name and address) provided by subscription.
func (dh *dataHub) subscriptionRequirement(t testing.TB, id string) string {
	t.Helper()
	at := dh.clock.Now()
	r := &exchange.Requirement{ID: id, Consumer: dh.yubei.Code, Provider: dh.police.Code, Resource: dh.resource, Items: []string{"name", "address"},
		MatterCodes: []string{matter1, matter2}, LegalDuty: "《重庆市政务数据资源管理暂行办法》", ScopeRegion: "500000",
		UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionSubscription, State: exchange.ReqGranted, CreatedAt: at, UpdatedAt: at,
		Decisions: []exchange.Decision{{Seq: 1, Action: exchange.ActSubmit, By: dh.yubei.Code, At: at}, {Seq: 2, Action: exchange.ActGrant, By: dh.police.Code, At: at}}}
	require.NoError(t, dh.h.Store.Requirements().Create(context.Background(), r))
	return id
}

// cutProxy forwards TCP connections to the hub and can cut every open one (a network
// failure between a subscriber and the hub).
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestSubscriptionDelivers follows a case over the gRPC stream through a proxy that cuts
// the connection: every change of the case's subjects arrives once, in order, minimised
// to the approved items, signed like a pull and audited like a pull; changes of other
// subjects never arrive; a cut connection is resumed by the SDK without loss or duplicate.
func TestSubscriptionDelivers(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	rid := dh.subscriptionRequirement(t, "REQ-YB-SUB")
	a, b, outsider := storetest.IDNumber(21), storetest.IDNumber(22), storetest.IDNumber(23)
	dh.openCase(t, "YB-SUB-1", matter1, a, b)
	hubKey := &dh.h.PullKey.PublicKey

	proxy := startCutProxy(t, strings.TrimPrefix(dh.yubei.HubURL, "https://"))
	viaProxy, err := sdk.Dial(ctx, dh.yubei, sdk.WithClock(dh.clock.Now), sdk.WithURL("https://"+proxy.ln.Addr().String()))
	require.NoError(t, err)
	defer viaProxy.Close()

	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	got := make(chan *sdk.Change, 64)
	ended := make(chan error, 1)
	go func() {
		for ch, err := range viaProxy.Follow(followCtx, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-1"}, hubKey) {
			if err != nil {
				ended <- err
				return
			}
			got <- ch
		}
		ended <- nil
	}()
	next := func() *sdk.Change {
		t.Helper()
		select {
		case ch := <-got:
			return ch
		case err := <-ended:
			t.Fatalf("the subscription ended: %v", err)
		} // no delivery at all: the test's own timeout reports where it waited
		return nil
	}

	before := dh.auditSize(t)
	dh.publish(t, "sub-1", outsider, a) // the outsider is no subject of the case
	first := next()
	require.Equal(t, a, first.Subject)
	require.Equal(t, int64(1), first.ChangeVersion)
	require.Equal(t, exchange.IdempotencyKey(rid, "YB-SUB-1", first.Cursor), first.IdempotencyKey)
	require.Len(t, first.Result.GetRecords(), 1)
	require.ElementsMatch(t, []string{"name", "address"}, keys(first.Result.GetRecords()[0].GetFields()), "ethnicity was not approved")
	require.NotContains(t, string(first.Response.GetPayload()), "土家", "the unapproved item's value is not in the signed bytes")
	require.NotContains(t, string(first.Response.GetPayload()), outsider)
	require.Equal(t, rid, first.Result.GetRequirementId())
	require.Equal(t, "YB-SUB-1", first.Result.GetCaseNumber())

	t.Run("ok/audited like a pull, bound to the delivered payload", func(t *testing.T) {
		refs := first.Response.GetAuditReferences()
		require.Len(t, refs, 1)
		require.GreaterOrEqual(t, refs[0], before)
		e, err := dh.h.Audit.Log.GetRecord(ctx, refs[0])
		require.NoError(t, err)
		digest := sdk.PayloadDigest(first.Response)
		require.Equal(t, ledger.KindPull, e.Record.Kind)
		require.Equal(t, ledger.OutcomeGranted, e.Record.Outcome)
		require.Equal(t, digest[:], e.Record.ResponseDigest)
		require.Equal(t, dh.h.Audit.SubjectKey(a), e.Record.Subject)
		require.Equal(t, "YB-SUB-1", e.Record.Case)
		for _, en := range dh.auditFrom(t, before) {
			if en.Record.Kind == ledger.KindPull {
				require.NotEqual(t, dh.h.Audit.SubjectKey(outsider), en.Record.Subject, "nothing of the outsider was read")
			}
		}
	})

	dh.publish(t, "sub-2", b)
	second := next()
	require.Equal(t, b, second.Subject)
	require.Greater(t, second.Cursor, first.Cursor)

	// The connection drops; changes published meanwhile arrive after the SDK resumes,
	// each once.
	proxy.cut()
	dh.publish(t, "sub-3", a)
	dh.publish(t, "sub-4", b, outsider)
	third, fourth := next(), next()
	require.Equal(t, []string{a, b}, []string{third.Subject, fourth.Subject})
	require.Equal(t, []int64{2, 2}, []int64{third.ChangeVersion, fourth.ChangeVersion})
	require.Less(t, second.Cursor, third.Cursor)
	require.Less(t, third.Cursor, fourth.Cursor)
	select {
	case ch := <-got:
		t.Fatalf("a change arrived twice or beyond the case: %+v", ch)
	default:
	}
	stop()
	require.ErrorIs(t, <-ended, context.Canceled)

	t.Run("ok/resuming from a cursor redelivers with the same idempotency key", func(t *testing.T) {
		var again []*sdk.Change
		for ch, err := range dh.c(dh.yubei).Follow(ctx, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-1",
			After: first.Cursor, UntilCaughtUp: true}, hubKey) {
			require.NoError(t, err)
			again = append(again, ch)
		}
		require.Len(t, again, 3)
		require.Equal(t, []string{second.IdempotencyKey, third.IdempotencyKey, fourth.IdempotencyKey},
			[]string{again[0].IdempotencyKey, again[1].IdempotencyKey, again[2].IdempotencyKey})
	})

	t.Run("ok/REST streams newline-delimited JSON", func(t *testing.T) {
		lines := restFollow(t, dh, dh.yubei, `{"requirement_id":"`+rid+`","matter_code":"`+matter1+`","case_number":"YB-SUB-1","after":"`+strconv.FormatInt(second.Cursor, 10)+`","until_caught_up":true}`)
		require.Len(t, lines, 2)
		for i, want := range []*sdk.Change{third, fourth} {
			var d struct {
				Result struct {
					Cursor         string `json:"cursor"`
					IdempotencyKey string `json:"idempotency_key"`
					Response       struct {
						Payload   []byte `json:"payload"`
						Signature []byte `json:"signature"`
					} `json:"response"`
				} `json:"result"`
			}
			require.NoError(t, json.Unmarshal([]byte(lines[i]), &d), lines[i])
			require.Equal(t, want.IdempotencyKey, d.Result.IdempotencyKey)
			require.NoError(t, sm.Verify(hubKey, d.Result.Response.Payload, d.Result.Response.Signature))
		}
	})
}

// restFollow posts a signed subscription to /v1/subscriptions:follow and returns its lines.
func restFollow(t *testing.T, dh *dataHub, who *identity.Identity, body string) []string {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(who.TLSCAPEM))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	hdr, err := reqsig.Sign(who.Key, who.Code, "POST", "/v1/subscriptions:follow", []byte(body), dh.clock.Now())
	require.NoError(t, err)
	req, err := http.NewRequest("POST", who.HubURL+"/v1/subscriptions:follow", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", hdr)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}

// TestSubscriptionRefusals: a subscription the pull rules would refuse is refused when it
// starts, with the pull's reason, and audited as a refused pull; so is one under a
// requirement not provided by subscription.
func TestSubscriptionRefusals(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	rid := dh.subscriptionRequirement(t, "REQ-YB-SUB")
	a := storetest.IDNumber(31)
	dh.openCase(t, "YB-SUB-2", matter1, a)
	dh.openCase(t, "YB-SUB-3", matter2, a)
	hubKey := &dh.h.PullKey.PublicKey
	cases := map[string]struct {
		who    *identity.Identity
		req    *exchangev1.SubscribeRequest
		reason string
	}{
		"fail/requirement provided by pull":                  {dh.yubei, &exchangev1.SubscribeRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-SUB-2"}, exchange.ReasonProvisionMethod},
		"fail/another department's case":                     {dh.sc, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-2"}, exchange.ReasonRequirementForeign},
		"fail/case of another matter":                        {dh.yubei, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-3"}, exchange.ReasonCaseMatterMismatch},
		"fail/revoked requirement":                           {dh.yubei, &exchangev1.SubscribeRequest{RequirementId: dh.revoked, MatterCode: matter1, CaseNumber: "YB-SUB-2"}, exchange.ReasonRequirementRevoked},
		"fail/no case":                                       {dh.yubei, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-NONE"}, exchange.ReasonCaseNotFound},
		"fail/negative cursor":                               {dh.yubei, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-2", After: -1}, "CURSOR_INVALID"},
		"fail/the provider under the consumer's requirement": {dh.police, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-2"}, exchange.ReasonRequirementForeign},
		"fail/matter not covered (unregistered)":             {dh.yubei, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: "500000-0098-XK", CaseNumber: "YB-SUB-2"}, exchange.ReasonMatterUnknown},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			from := dh.auditSize(t)
			var last error
			for _, err := range dh.c(tc.who).Follow(ctx, tc.req, hubKey) {
				last = err
			}
			require.Error(t, last)
			require.Equal(t, tc.reason, server.Reason(last), "%v", last)
			if tc.reason == "CURSOR_INVALID" {
				return
			}
			entries := dh.auditFrom(t, from)
			require.NotEmpty(t, entries, "a refused subscription is audited")
			rec := entries[len(entries)-1].Record
			require.Equal(t, ledger.KindPull, rec.Kind)
			require.Equal(t, ledger.OutcomeDenied, rec.Outcome)
			require.True(t, strings.HasPrefix(rec.Reason, tc.reason+": "), rec.Reason)
		})
	}

	t.Run("fail/the case closes: the stream ends with the pull's refusal", func(t *testing.T) {
		dh.openCase(t, "YB-SUB-4", matter1, a)
		_, err := dh.c(dh.yubei).Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-SUB-4", Comment: "已办结"})
		require.NoError(t, err)
		var last error
		for _, err := range dh.c(dh.yubei).Follow(ctx, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-SUB-4"}, hubKey) {
			last = err
		}
		require.Equal(t, exchange.ReasonCaseClosed, server.Reason(last), "%v", last)
	})
}

// BenchmarkSubscriptionDelivery measures changes delivered per second to 100 subscribers
// (gRPC streams over TLS, each its own case of the same subject): every published change
// reaches all 100, each delivery a signed and audited pull.
func BenchmarkSubscriptionDelivery(b *testing.B) {
	const subscribers = 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dh := startDataHub(b, cst("2026-03-02 09:00"))
	rid := dh.subscriptionRequirement(b, "REQ-YB-SUB")
	a := storetest.IDNumber(41)
	hubKey := &dh.h.PullKey.PublicKey
	var delivered sync.WaitGroup
	for i := range subscribers {
		number := "YB-BENCH-" + strconv.Itoa(i)
		dh.openCase(b, number, matter1, a)
		go func() {
			for _, err := range dh.c(dh.yubei).Follow(ctx, &exchangev1.SubscribeRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: number}, hubKey) {
				if err != nil {
					return
				}
				delivered.Done()
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		delivered.Add(subscribers)
		dh.publish(b, "bench-"+strconv.Itoa(i), a)
		delivered.Wait()
	}
	b.ReportMetric(float64(b.N*subscribers)/time.Since(start).Seconds(), "deliveries/s")
}

// webhookEndpoint is a consumer's HTTPS endpoint on 127.0.0.1: it verifies every delivery
// with the hub key, fails the first `failFirst` requests (and every one when failAlways),
// and keeps what it acknowledged per idempotency key.
type webhookEndpoint struct {
	srv        *httptest.Server
	mu         sync.Mutex
	failFirst  int
	failAlways bool
	requests   []string          // idempotency keys in arrival order, failed ones too
	bodies     map[string][]byte // per key, every body received
	acked      map[string]*exchangev1.PullResult
	ackOrder   []string
	bad        []string // verification failures
}

func startWebhookEndpoint(t *testing.T, hubKey *ecdsa.PublicKey, failFirst int, failAlways bool) *webhookEndpoint {
	e := &webhookEndpoint{failFirst: failFirst, failAlways: failAlways, bodies: map[string][]byte{}, acked: map[string]*exchangev1.PullResult{}}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d, res, err := sdk.VerifyWebhook(body, r.Header.Get(server.WebhookSignatureHeader), hubKey)
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil || d.GetIdempotencyKey() != r.Header.Get(server.WebhookIdempotencyHeader) {
			e.bad = append(e.bad, fmt.Sprint(err))
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		key := d.GetIdempotencyKey()
		if prev, ok := e.bodies[key]; ok && !bytes.Equal(prev, body) {
			e.bad = append(e.bad, "a retried delivery changed its body: "+key)
		}
		e.bodies[key] = body
		e.requests = append(e.requests, key)
		if e.failAlways || len(e.requests) <= e.failFirst {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		if _, seen := e.acked[key]; !seen { // process each key once
			e.acked[key] = res
			e.ackOrder = append(e.ackOrder, key)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *webhookEndpoint) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw}))
}

func (e *webhookEndpoint) snapshot() (requests, acked []string, bad []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests), slices.Clone(e.ackOrder), slices.Clone(e.bad)
}

// TestWebhookDelivers registers webhooks on test HTTPS endpoints: deliveries arrive signed
// by the hub, minimised and audited like pulls; an endpoint that fails gets the same
// delivery (same key, same bytes) again until it acknowledges, nothing is lost or skipped;
// one that never acknowledges gets its deliveries dead-lettered, with an audit record,
// and the following changes still go out.
func TestWebhookDelivers(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"), func(c *config.Config) {
		c.Webhooks.MaxAttempts, c.Webhooks.Backoff = 3, 5*time.Millisecond
	})
	rid := dh.subscriptionRequirement(t, "REQ-YB-SUB")
	a, b, outsider := storetest.IDNumber(51), storetest.IDNumber(52), storetest.IDNumber(53)
	dh.openCase(t, "YB-WH-1", matter1, a, b)
	dh.openCase(t, "YB-WH-2", matter1, a)
	hubKey := &dh.h.PullKey.PublicKey
	flaky := startWebhookEndpoint(t, hubKey, 2, false)
	dead := startWebhookEndpoint(t, hubKey, 0, true)
	yb := dh.c(dh.yubei)

	t.Run("fail/registration is checked like a subscription", func(t *testing.T) {
		_, err := yb.Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{RequirementId: dh.granted, MatterCode: matter1, CaseNumber: "YB-WH-1", Url: flaky.srv.URL, TlsCaPem: flaky.caPEM()})
		require.Equal(t, exchange.ReasonProvisionMethod, server.Reason(err), "%v", err)
		_, err = yb.Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-WH-1", Url: strings.Replace(flaky.srv.URL, "https", "http", 1)})
		require.Equal(t, "WEBHOOK_URL_INVALID", server.Reason(err), "%v", err)
	})

	w1, err := yb.Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-WH-1", Url: flaky.srv.URL, TlsCaPem: flaky.caPEM()})
	require.NoError(t, err)
	w2, err := yb.Subscriptions.RegisterWebhook(ctx, &exchangev1.RegisterWebhookRequest{RequirementId: rid, MatterCode: matter1, CaseNumber: "YB-WH-2", Url: dead.srv.URL, TlsCaPem: dead.caPEM()})
	require.NoError(t, err)

	dh.publish(t, "wh-1", a, outsider)
	dh.publish(t, "wh-2", b)
	dh.publish(t, "wh-3", a)
	require.Eventually(t, func() bool { _, acked, _ := flaky.snapshot(); return len(acked) == 3 }, 30*time.Second, 5*time.Millisecond)
	requests, acked, bad := flaky.snapshot()
	require.Empty(t, bad)
	require.Equal(t, requests[0], requests[1], "the failed delivery is sent again with the same idempotency key")
	require.Equal(t, requests[0], requests[2])
	require.Equal(t, acked[0], requests[0])
	subjects := []string{}
	for _, k := range acked {
		res := flaky.acked[k]
		require.Len(t, res.GetRecords(), 1)
		require.ElementsMatch(t, []string{"name", "address"}, keys(res.GetRecords()[0].GetFields()), "only approved items")
		subjects = append(subjects, res.GetRecords()[0].GetSubject())
	}
	require.Equal(t, []string{a, b, a}, subjects, "in order, each change once, the outsider never")
	for _, k := range acked {
		require.NotContains(t, string(flaky.bodies[k]), outsider)
	}

	// The endpoint that never acknowledges: both deliveries of a are dead-lettered after 3
	// attempts each, in order, and listed with an audit record.
	require.Eventually(t, func() bool {
		l, err := yb.Subscriptions.ListWebhooks(ctx, &exchangev1.ListWebhooksRequest{})
		return err == nil && len(l.GetDeadLetters()) == 2
	}, 30*time.Second, 5*time.Millisecond)
	l, err := yb.Subscriptions.ListWebhooks(ctx, &exchangev1.ListWebhooksRequest{})
	require.NoError(t, err)
	for _, d := range l.GetDeadLetters() {
		require.Equal(t, w2.GetId(), d.GetWebhookId())
		require.Equal(t, int32(3), d.GetAttempts())
		require.Contains(t, d.GetLastError(), "503")
	}
	require.Less(t, l.GetDeadLetters()[0].GetCursor(), l.GetDeadLetters()[1].GetCursor())
	deadRequests, deadAcked, _ := dead.snapshot()
	require.Len(t, deadRequests, 6)
	require.Empty(t, deadAcked)
	for _, wh := range l.GetWebhooks() {
		switch wh.GetId() {
		case w1.GetId():
			require.Equal(t, int64(3), wh.GetDelivered())
		case w2.GetId():
			require.Equal(t, int64(2), wh.GetDeadLettered())
			require.Equal(t, l.GetDeadLetters()[1].GetCursor(), wh.GetCursor(), "the cursor moved past the dead letters")
		}
	}
	// A dead letter and its record commit together; the record reaches the log right after
	// (the dispatcher is not a request that waits for it), so wait for it.
	require.Eventually(t, func() bool {
		deadAudit := 0
		for _, e := range dh.auditFrom(t, 0) {
			if e.Record.Kind == server.KindWebhook && e.Record.Outcome == ledger.OutcomeFailed {
				require.Contains(t, e.Record.Reason, w2.GetId())
				deadAudit++
			}
		}
		return deadAudit == 2
	}, 10*time.Second, 10*time.Millisecond, "each dead letter is audited")

	t.Run("ok/a closed case stops the webhook with the pull's reason", func(t *testing.T) {
		_, err := yb.Cases.CloseCase(ctx, &exchangev1.CloseCaseRequest{Number: "YB-WH-1", Comment: "已办结"})
		require.NoError(t, err)
		dh.publish(t, "wh-4", b)
		require.Eventually(t, func() bool {
			l, err := yb.Subscriptions.ListWebhooks(ctx, &exchangev1.ListWebhooksRequest{})
			if err != nil {
				return false
			}
			for _, wh := range l.GetWebhooks() {
				if wh.GetId() == w1.GetId() {
					return wh.GetState() == exchange.WebhookStopped && strings.Contains(wh.GetLastError(), exchange.ReasonCaseClosed)
				}
			}
			return false
		}, 30*time.Second, 5*time.Millisecond)
		_, acked, _ := flaky.snapshot()
		require.Len(t, acked, 3, "nothing was sent for the closed case")
	})
}
