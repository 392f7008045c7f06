package sqlstore

import (
	"context"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{141, "webhooks of subscriptions and their dead letters", `
CREATE TABLE webhooks (
	id             TEXT PRIMARY KEY,
	department     TEXT NOT NULL,
	operator       TEXT NOT NULL,
	requirement_id TEXT NOT NULL,
	matter_code    TEXT NOT NULL,
	case_number    TEXT NOT NULL,
	url            TEXT NOT NULL,
	tls_ca_pem     TEXT NOT NULL,
	seq            {{int64}} NOT NULL,
	state          TEXT NOT NULL,
	last_error     TEXT NOT NULL,
	delivered      {{int64}} NOT NULL,
	dead_lettered  {{int64}} NOT NULL,
	created_at     {{int64}} NOT NULL
);
CREATE INDEX webhooks_department ON webhooks (department, created_at);
CREATE TABLE webhook_dead_letters (
	webhook_id      TEXT NOT NULL,
	seq             {{int64}} NOT NULL,
	idempotency_key TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	last_error      TEXT NOT NULL,
	at              {{int64}} NOT NULL,
	PRIMARY KEY (webhook_id, seq)
)
`})
}

func init() {
	register(migration{143, "webhooks that push a provider's freshness alerts", `
ALTER TABLE webhooks ADD COLUMN freshness_alerts INTEGER NOT NULL DEFAULT 0
`})
}

// Webhooks implements store.Store.
func (s *Store) Webhooks() store.Webhooks { return webhooks{s} }

type webhooks struct{ s *Store }

const webhookColumns = `id, department, operator, requirement_id, matter_code, case_number, url, tls_ca_pem, seq, state, last_error, delivered, dead_lettered, created_at, freshness_alerts`

func (w webhooks) Create(ctx context.Context, h *exchange.Webhook) error {
	_, err := w.s.conn(ctx).ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		h.ID, h.Department, h.Operator, h.RequirementID, h.MatterCode, h.CaseNumber, h.URL, h.TLSCAPEM, h.Cursor, h.State, h.LastError,
		h.Delivered, h.DeadLettered, h.CreatedAt.UnixMicro(), boolInt(h.FreshnessAlerts))
	if err != nil {
		if w.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "WEBHOOK_EXISTS", "webhook %s exists", h.ID)
		}
		return unavailable("store webhook", err)
	}
	return nil
}

func (w webhooks) List(ctx context.Context, department string) ([]*exchange.Webhook, error) {
	rows, err := w.s.queryRaw(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE $1 = '' OR department = $1 ORDER BY created_at, id`, department)
	if err != nil {
		return nil, unavailable("list webhooks", err)
	}
	defer rows.Close()
	var out []*exchange.Webhook
	for rows.Next() {
		var (
			h      exchange.Webhook
			at     int64
			alerts int64
		)
		if err := rows.Scan(&h.ID, &h.Department, &h.Operator, &h.RequirementID, &h.MatterCode, &h.CaseNumber, &h.URL, &h.TLSCAPEM,
			&h.Cursor, &h.State, &h.LastError, &h.Delivered, &h.DeadLettered, &at, &alerts); err != nil {
			return nil, unavailable("list webhooks", err)
		}
		h.FreshnessAlerts = alerts != 0
		h.CreatedAt = time.UnixMicro(at).UTC()
		out = append(out, &h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list webhooks", err)
	}
	return out, nil
}

func (w webhooks) Acknowledge(ctx context.Context, id string, cursor int64, dead *exchange.DeadLetter) error {
	tx, err := w.s.begin(ctx, nil)
	if err != nil {
		return unavailable("begin webhook acknowledgement", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	count := `delivered = delivered + 1, last_error = ''`
	if dead != nil {
		count = `dead_lettered = dead_lettered + 1, last_error = $3`
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_dead_letters (webhook_id, seq, idempotency_key, attempts, last_error, at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (webhook_id, seq) DO NOTHING`, id, dead.Cursor, dead.IdempotencyKey, dead.Attempts, dead.LastError, dead.At.UnixMicro()); err != nil {
			return unavailable("store dead letter", err)
		}
	}
	args := []any{id, cursor}
	if dead != nil {
		args = append(args, dead.LastError)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET seq = $2, `+count+` WHERE id = $1 AND seq < $2`, args...); err != nil {
		return unavailable("advance webhook", err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable("commit webhook acknowledgement", err)
	}
	return nil
}

func (w webhooks) Fail(ctx context.Context, id, lastError string) error {
	if _, err := w.s.conn(ctx).ExecContext(ctx, `UPDATE webhooks SET last_error = $2 WHERE id = $1`, id, lastError); err != nil {
		return unavailable("record webhook failure", err)
	}
	return nil
}

func (w webhooks) Stop(ctx context.Context, id, reason string) error {
	if _, err := w.s.conn(ctx).ExecContext(ctx, `UPDATE webhooks SET state = $2, last_error = $3 WHERE id = $1`, id, exchange.WebhookStopped, reason); err != nil {
		return unavailable("stop webhook", err)
	}
	return nil
}

func (w webhooks) DeadLetters(ctx context.Context, department string, limit int) ([]*exchange.DeadLetter, error) {
	limit = max(1, min(limit, 1000))
	rows, err := w.s.queryRaw(ctx, `SELECT d.webhook_id, d.seq, d.idempotency_key, d.attempts, d.last_error, d.at FROM webhook_dead_letters d
JOIN webhooks w ON w.id = d.webhook_id WHERE $1 = '' OR w.department = $1 ORDER BY d.at, d.webhook_id, d.seq LIMIT $2`, department, limit)
	if err != nil {
		return nil, unavailable("list dead letters", err)
	}
	defer rows.Close()
	var out []*exchange.DeadLetter
	for rows.Next() {
		var (
			d  exchange.DeadLetter
			at int64
		)
		if err := rows.Scan(&d.WebhookID, &d.Cursor, &d.IdempotencyKey, &d.Attempts, &d.LastError, &at); err != nil {
			return nil, unavailable("list dead letters", err)
		}
		d.At = time.UnixMicro(at).UTC()
		out = append(out, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list dead letters", err)
	}
	return out, nil
}
