package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Headers of a webhook delivery. The body is the Delivery in JSON (protojson, proto field
// names); WebhookSignatureHeader is the hub's SM2 signature (DER, base64) over exactly the
// body bytes, to verify with the hub key AuditService.GetLogInfo publishes (sdk.VerifyWebhook).
const (
	WebhookSignatureHeader   = "Gxhub-Signature"
	WebhookIdempotencyHeader = "Idempotency-Key"
	WebhookIDHeader          = "Gxhub-Webhook-Id"
)

// KindWebhook is the audit record kind of a webhook registered or a delivery dead-lettered.
const KindWebhook ledger.Kind = "webhook"

// WebhookDispatcher pushes each active webhook's deliveries (exchange.Subscriber, so every
// change is a signed, audited pull) to its endpoint: POST, retried with doubling backoff
// until a 2xx, at most MaxAttempts times; then the delivery is dead-lettered (stored, an
// audit record, an operator alert in the log) and the next change follows. The cursor moves
// only after a 2xx or a dead letter, so a hub that stops mid-delivery sends that change
// again when it restarts, with the same Idempotency-Key (at least once).
//
// Several hubs sharing one database each run the dispatcher: an endpoint may then receive a
// delivery from more than one of them; the idempotency key makes that harmless.
type WebhookDispatcher struct {
	Store       store.Store
	Subscriber  *exchange.Subscriber
	Signer      *PullSigner
	Audit       *store.AuditWriter
	Log         *slog.Logger
	MaxAttempts int
	Backoff     time.Duration
	Now         Clock
	// Freshness follows providers' freshness alerts for the webhooks that push them.
	Freshness *Freshness

	mu      sync.Mutex
	ctx     context.Context
	running map[string]bool
}

// Run starts the delivery of every active webhook and of those registered later, until ctx ends.
func (d *WebhookDispatcher) Run(ctx context.Context) {
	d.mu.Lock()
	d.ctx, d.running = ctx, map[string]bool{}
	d.mu.Unlock()
	hooks, err := d.Store.Webhooks().List(ctx, "")
	if err != nil {
		d.Log.ErrorContext(ctx, "webhooks not started: list failed", slog.String("error", err.Error()))
		return
	}
	for _, w := range hooks {
		d.start(w)
	}
}

// start runs w's delivery unless it runs already or the dispatcher is not running.
func (d *WebhookDispatcher) start(w *exchange.Webhook) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.running[w.ID] || w.State != exchange.WebhookActive {
		return
	}
	d.running[w.ID] = true
	go func() {
		d.deliver(d.ctx, w)
		d.mu.Lock()
		delete(d.running, w.ID)
		d.mu.Unlock()
	}()
}

func (d *WebhookDispatcher) wait(ctx context.Context, attempt int) bool {
	backoff := d.Backoff
	for i := 1; i < attempt && backoff < 5*time.Minute; i++ {
		backoff *= 2
	}
	t := time.NewTimer(min(backoff, 5*time.Minute))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deliver follows w's subscription and posts each delivery until ctx ends or a pull is refused.
func (d *WebhookDispatcher) deliver(ctx context.Context, w *exchange.Webhook) {
	client, err := webhookClient(w.TLSCAPEM)
	if err != nil {
		d.stop(ctx, w, err.Error())
		return
	}
	if w.FreshnessAlerts {
		d.deliverAlerts(ctx, client, w)
		return
	}
	cursor := w.Cursor
	for failures := 1; ctx.Err() == nil; failures++ {
		dept, err := d.Store.Departments().Get(ctx, w.Department)
		if err == nil {
			in := exchange.SubscribeInput{Caller: dept, Operator: w.Operator, RequirementID: w.RequirementID, MatterCode: w.MatterCode,
				CaseNumber: w.CaseNumber, After: cursor}
			err = d.Subscriber.Follow(ctx, in, func(dl exchange.Delivery) error {
				if err := d.post(ctx, client, w, dl); err != nil {
					return err
				}
				cursor, failures = dl.Change.Seq, 0
				return nil
			})
		}
		if ctx.Err() != nil {
			return
		}
		switch exchange.KindOf(err) {
		case exchange.KindPermissionDenied, exchange.KindFailedPrecondition, exchange.KindNotFound, exchange.KindInvalid:
			reason := err.Error()
			var de *exchange.Error
			if errors.As(err, &de) {
				reason = de.Reason + ": " + reason
			}
			d.stop(ctx, w, reason) // the pull's refusal, audited by the pull use case
			return
		}
		d.Log.WarnContext(ctx, "webhook delivery interrupted; resuming", slog.String("webhook", w.ID), slog.String("error", fmt.Sprint(err)))
		if !d.wait(ctx, failures) {
			return
		}
	}
}

func (d *WebhookDispatcher) stop(ctx context.Context, w *exchange.Webhook, reason string) {
	if err := d.Store.Webhooks().Stop(ctx, w.ID, clipText(reason, maxAuditReason)); err != nil {
		d.Log.ErrorContext(ctx, "webhook stop not recorded", slog.String("webhook", w.ID), slog.String("error", err.Error()))
	}
	d.Log.WarnContext(ctx, "webhook stopped", slog.String("webhook", w.ID), slog.String("department", w.Department), slog.String("reason", reason))
}

// post sends one delivery until the endpoint acknowledges it or the attempts run out
// (dead letter); it fails only when ctx ends or the store cannot record the outcome.
func (d *WebhookDispatcher) post(ctx context.Context, client *http.Client, w *exchange.Webhook, dl exchange.Delivery) error {
	resp, err := d.Signer.Response(dl.Outcome)
	if err != nil {
		return err
	}
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(deliveryToProto(dl, resp))
	if err != nil {
		return err
	}
	return d.push(ctx, client, w, dl.IdempotencyKey, body, dl.Change.Seq, dl.Change.Resource)
}

// push sends one signed body until the endpoint acknowledges it (the webhook's cursor moves
// to seq) or the attempts run out (dead letter).
func (d *WebhookDispatcher) push(ctx context.Context, client *http.Client, w *exchange.Webhook, key string, body []byte, seq int64, resource string) error {
	sig, err := sm.Sign(d.Signer.Key, body)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := postOnce(ctx, client, w, key, body, base64.StdEncoding.EncodeToString(sig))
		if err == nil {
			return d.Store.Webhooks().Acknowledge(ctx, w.ID, seq, nil)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := clipText(err.Error(), maxAuditReason)
		if attempt >= d.MaxAttempts {
			return d.deadLetter(ctx, w, seq, key, resource, attempt, msg)
		}
		if ferr := d.Store.Webhooks().Fail(ctx, w.ID, msg); ferr != nil {
			return ferr
		}
		if !d.wait(ctx, attempt) {
			return ctx.Err()
		}
	}
}

func (d *WebhookDispatcher) deadLetter(ctx context.Context, w *exchange.Webhook, seq int64, key, resource string, attempts int, msg string) error {
	now := d.Now.now().UTC()
	dead := &exchange.DeadLetter{WebhookID: w.ID, Cursor: seq, IdempotencyKey: key, Attempts: attempts, LastError: msg, At: now}
	// The dead letter commits with an audit record the consumer and the auditor can find;
	// the operator alert is an error in the log (alerting watches it).
	if _, err := auditedWrite(ctx, d.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := d.Store.Webhooks().Acknowledge(ctx, w.ID, seq, dead); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindWebhook, Time: now, Department: w.Department, Operator: w.Operator,
			Resource: resource, Matter: w.MatterCode, Case: w.CaseNumber, Outcome: ledger.OutcomeFailed,
			Reason: fmt.Sprintf("webhook %s: delivery %s dead-lettered after %d attempts: %s", w.ID, key, attempts, msg), RequestID: w.ID}, nil
	}); err != nil {
		return err
	}
	d.Log.ErrorContext(ctx, "ALERT webhook delivery dead-lettered", slog.String("webhook", w.ID), slog.String("department", w.Department),
		slog.String("url", w.URL), slog.String("idempotency_key", key), slog.Int("attempts", attempts), slog.String("error", msg))
	return nil
}

func postOnce(ctx context.Context, client *http.Client, w *exchange.Webhook, key string, body []byte, sig string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(WebhookSignatureHeader, sig)
	req.Header.Set(WebhookIdempotencyHeader, key)
	req.Header.Set(WebhookIDHeader, w.ID)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}

// webhookClient trusts the registered CA PEM (or the system roots) and follows no redirect:
// deliveries go only to the registered URL.
func webhookClient(caPEM string) (*http.Client, error) {
	var pool *x509.CertPool
	if caPEM != "" {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, exchange.Errorf(exchange.KindInvalid, "WEBHOOK_CA_INVALID", "tls_ca_pem holds no PEM certificate")
		}
	}
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func deliveryToProto(dl exchange.Delivery, resp *exchangev1.PullResponse) *exchangev1.Delivery {
	return &exchangev1.Delivery{Cursor: dl.Change.Seq, IdempotencyKey: dl.IdempotencyKey, Subject: dl.Change.Subject,
		ChangeVersion: dl.Change.Version, Response: resp}
}

// RegisterWebhook registers a push endpoint for a case, admitted like Subscribe.
func (s *Subscriptions) RegisterWebhook(ctx context.Context, req *exchangev1.RegisterWebhookRequest) (*exchangev1.Webhook, error) {
	if req.GetFreshnessAlerts() {
		return s.registerAlertWebhook(ctx, req)
	}
	caller, err := RequireRole(ctx, exchange.RoleConsumer)
	if err != nil {
		return nil, err
	}
	if err := exchange.ValidateWebhookURL(req.GetUrl()); err != nil {
		return nil, err
	}
	if _, err := webhookClient(req.GetTlsCaPem()); err != nil {
		return nil, err
	}
	if req.GetAfter() < 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "CURSOR_INVALID", "after must be a cursor the hub delivered (≥ 0), got %d", req.GetAfter())
	}
	in := exchange.SubscribeInput{Caller: caller.Department, Operator: req.GetOperator(), RequirementID: req.GetRequirementId(),
		MatterCode: req.GetMatterCode(), CaseNumber: req.GetCaseNumber()}
	rq, err := s.Subscriber.Admit(ctx, in)
	if err != nil {
		return nil, err
	}
	now := s.Dispatcher.Now.now().UTC().Truncate(time.Microsecond)
	w := &exchange.Webhook{ID: "WH-" + newID()[:16], Department: caller.Department.Code, Operator: in.Operator, RequirementID: rq.ID,
		MatterCode: in.MatterCode, CaseNumber: in.CaseNumber, URL: req.GetUrl(), TLSCAPEM: req.GetTlsCaPem(), Cursor: req.GetAfter(),
		State: exchange.WebhookActive, CreatedAt: now}
	evidence := sm.Sum([]byte(caller.Evidence)) // the consumer's signed registration, as a publish's
	if _, err := auditedWrite(ctx, s.Dispatcher.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Dispatcher.Store.Webhooks().Create(ctx, w); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindWebhook, Time: now, Department: w.Department, Operator: w.Operator,
			Resource: rq.Resource, Matter: w.MatterCode, Case: w.CaseNumber, Outcome: ledger.OutcomeOK,
			Reason: fmt.Sprintf("webhook %s registered under requirement %s: %s", w.ID, rq.ID, w.URL), RequestID: w.ID, ResponseDigest: evidence[:]}, nil
	}); err != nil {
		return nil, err
	}
	s.Dispatcher.start(w)
	return webhookToProto(w), nil
}

// ListWebhooks lists the caller's webhooks and their dead letters.
func (s *Subscriptions) ListWebhooks(ctx context.Context, _ *exchangev1.ListWebhooksRequest) (*exchangev1.ListWebhooksResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	hooks, err := s.Dispatcher.Store.Webhooks().List(ctx, caller.Department.Code)
	if err != nil {
		return nil, err
	}
	dead, err := s.Dispatcher.Store.Webhooks().DeadLetters(ctx, caller.Department.Code, 1000)
	if err != nil {
		return nil, err
	}
	out := &exchangev1.ListWebhooksResponse{}
	for _, w := range hooks {
		out.Webhooks = append(out.Webhooks, webhookToProto(w))
	}
	for _, d := range dead {
		out.DeadLetters = append(out.DeadLetters, &exchangev1.DeadLetter{WebhookId: d.WebhookID, Cursor: d.Cursor, IdempotencyKey: d.IdempotencyKey,
			Attempts: int32(d.Attempts), LastError: d.LastError, At: timestamppb.New(d.At)})
	}
	return out, nil
}

func webhookToProto(w *exchange.Webhook) *exchangev1.Webhook {
	return &exchangev1.Webhook{Id: w.ID, Department: w.Department, RequirementId: w.RequirementID, MatterCode: w.MatterCode,
		CaseNumber: w.CaseNumber, Operator: w.Operator, Url: w.URL, Cursor: w.Cursor, State: w.State, LastError: w.LastError,
		Delivered: w.Delivered, DeadLettered: w.DeadLettered, CreatedAt: timestamppb.New(w.CreatedAt), FreshnessAlerts: w.FreshnessAlerts}
}

// registerAlertWebhook registers a provider's endpoint for its freshness alerts (A5).
func (s *Subscriptions) registerAlertWebhook(ctx context.Context, req *exchangev1.RegisterWebhookRequest) (*exchangev1.Webhook, error) {
	caller, err := RequireRole(ctx, exchange.RoleProvider)
	if err != nil {
		return nil, err
	}
	if req.GetRequirementId() != "" || req.GetMatterCode() != "" || req.GetCaseNumber() != "" || req.GetAfter() != 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "WEBHOOK_REQUEST_INVALID", "a freshness-alert webhook pushes your own resources' alerts: give no requirement, matter, case or cursor")
	}
	if err := exchange.ValidateWebhookURL(req.GetUrl()); err != nil {
		return nil, err
	}
	if _, err := webhookClient(req.GetTlsCaPem()); err != nil {
		return nil, err
	}
	now := s.Dispatcher.Now.now().UTC().Truncate(time.Microsecond)
	w := &exchange.Webhook{ID: "WH-" + newID()[:16], Department: caller.Department.Code, Operator: req.GetOperator(), URL: req.GetUrl(),
		TLSCAPEM: req.GetTlsCaPem(), State: exchange.WebhookActive, CreatedAt: now, FreshnessAlerts: true}
	evidence := sm.Sum([]byte(caller.Evidence))
	if _, err := auditedWrite(ctx, s.Dispatcher.Audit, func(ctx context.Context) (ledger.Record, error) {
		if err := s.Dispatcher.Store.Webhooks().Create(ctx, w); err != nil {
			return ledger.Record{}, err
		}
		return ledger.Record{Kind: KindWebhook, Time: now, Department: w.Department, Operator: w.Operator, Outcome: ledger.OutcomeOK,
			Reason: fmt.Sprintf("webhook %s registered for the freshness alerts of %s: %s", w.ID, w.Department, w.URL), RequestID: w.ID, ResponseDigest: evidence[:]}, nil
	}); err != nil {
		return nil, err
	}
	s.Dispatcher.start(w)
	return webhookToProto(w), nil
}

// AlertIdempotencyKey is the key of a freshness alert pushed to a webhook.
func AlertIdempotencyKey(webhookID string, a *exchangev1.FreshnessAlert) string {
	return webhookID + "/" + a.GetFreshness().GetResource() + "/" + a.GetState() + "/" + strconv.FormatInt(a.GetAt().AsTime().UnixMicro(), 10)
}

// deliverAlerts follows the webhook's department's freshness alerts (Freshness.FollowAlerts)
// and pushes each, signed by the hub like a delivery (body: the FreshnessAlert in JSON),
// until ctx ends or the department no longer holds the provider role. A restarted hub sends
// the resources stale then first: alerts are at least once, with a stable key each.
func (d *WebhookDispatcher) deliverAlerts(ctx context.Context, client *http.Client, w *exchange.Webhook) {
	if d.Freshness == nil {
		d.stop(ctx, w, "this hub pushes no freshness alerts")
		return
	}
	seq := w.Cursor
	for failures := 1; ctx.Err() == nil; failures++ {
		dept, err := d.Store.Departments().Get(ctx, w.Department)
		if err == nil {
			err = d.Freshness.followAlerts(WithCaller(ctx, &Caller{Department: dept}), &exchangev1.FollowAlertsRequest{}, func(a *exchangev1.FreshnessAlert) error {
				body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
				if err != nil {
					return err
				}
				seq = max(seq+1, a.GetAt().AsTime().UnixMicro()) // the cursor only moves forward
				if err := d.push(ctx, client, w, AlertIdempotencyKey(w.ID, a), body, seq, a.GetFreshness().GetResource()); err != nil {
					return err
				}
				failures = 0
				return nil
			})
		}
		if ctx.Err() != nil {
			return
		}
		if exchange.KindOf(err) == exchange.KindPermissionDenied {
			d.stop(ctx, w, err.Error())
			return
		}
		d.Log.WarnContext(ctx, "freshness alert webhook interrupted; resuming", slog.String("webhook", w.ID), slog.String("error", fmt.Sprint(err)))
		if !d.wait(ctx, failures) {
			return
		}
	}
}
