package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{50, "records, publish batches, liveness and objections", `
CREATE TABLE record_batches (
	id          TEXT PRIMARY KEY,
	resource    TEXT NOT NULL,
	provider    TEXT NOT NULL,
	changes     INTEGER NOT NULL,
	at          {{int64}} NOT NULL,
	evidence    TEXT NOT NULL,
	body_digest TEXT NOT NULL
);
CREATE TABLE records (
	resource     TEXT NOT NULL,
	subject      TEXT NOT NULL,
	version      {{int64}} NOT NULL,
	fields       TEXT NOT NULL,
	deleted      INTEGER NOT NULL,
	published_at {{int64}} NOT NULL,
	published_by TEXT NOT NULL,
	batch        TEXT NOT NULL,
	PRIMARY KEY (resource, subject, version)
);
CREATE TABLE resource_liveness (
	resource TEXT PRIMARY KEY,
	last_at  {{int64}} NOT NULL
);
CREATE TABLE objections (
	id                TEXT PRIMARY KEY,
	resource          TEXT NOT NULL,
	subject           TEXT NOT NULL,
	record_version    {{int64}} NOT NULL,
	consumer          TEXT NOT NULL,
	provider          TEXT NOT NULL,
	items             TEXT NOT NULL,
	body              TEXT NOT NULL,
	state             TEXT NOT NULL,
	raised_at         {{int64}} NOT NULL,
	raised_evidence   TEXT NOT NULL,
	resolved_at       {{int64}} NOT NULL,
	resolved_by       TEXT NOT NULL,
	resolution        TEXT NOT NULL,
	resolved_evidence TEXT NOT NULL
);
CREATE INDEX objections_provider ON objections (provider, state, raised_at);
CREATE INDEX objections_consumer ON objections (consumer, state, raised_at)
`})
}

func init() {
	register(migration{150, "records by batch (resuming a publish compares a re-sent batch with the stored one)", `
CREATE INDEX records_batch ON records (batch)
`})
}

func init() {
	register(migration{55, "record seals (each version's commitment to its batch's publish audit record) and the publish record of each batch", `
ALTER TABLE records ADD COLUMN seal TEXT NOT NULL DEFAULT '';
ALTER TABLE record_batches ADD COLUMN publish_record {{int64}}
`})
}

// recordSeal is the stored form of exchange.RecordSeal (JSON; the empty string when the version has none).
type recordSeal struct {
	Salt      []byte   `json:"salt"`
	Position  uint64   `json:"pos"`
	BatchSize uint64   `json:"size"`
	Path      [][]byte `json:"path"`
}

func sealJSON(s exchange.RecordSeal) string {
	if len(s.Salt) == 0 {
		return ""
	}
	b, _ := json.Marshal(recordSeal(s)) // cannot fail: byte slices and integers
	return string(b)
}

func parseSeal(s string) (exchange.RecordSeal, error) {
	if s == "" {
		return exchange.RecordSeal{}, nil
	}
	var rs recordSeal
	if err := json.Unmarshal([]byte(s), &rs); err != nil {
		return exchange.RecordSeal{}, err
	}
	return exchange.RecordSeal(rs), nil
}

// Records implements store.Store.
func (s *Store) Records() store.Records { return records{s} }

// Objections implements store.Store.
func (s *Store) Objections() store.Objections { return objections{s} }

type records struct{ s *Store }

func (r records) Publish(ctx context.Context, b *exchange.Batch) ([]*exchange.Record, error) {
	tx, err := r.s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable("begin publish", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	at := b.At.UnixMicro()
	_, err = tx.ExecContext(ctx, `INSERT INTO record_batches (id, resource, provider, changes, at, evidence, body_digest) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		b.ID, b.Resource, b.Provider, len(b.Changes), at, b.Evidence, b.BodyDigest)
	if err != nil {
		if r.s.d.IsUniqueViolation(err) {
			return nil, exchange.Errorf(exchange.KindAlreadyExists, "BATCH_EXISTS", "batch %s was already published: give each batch a new id", b.ID)
		}
		return nil, unavailable("record batch", err)
	}
	out := make([]*exchange.Record, 0, len(b.Changes))
	for i, c := range b.Changes {
		var (
			last    int64
			deleted bool
		)
		var del int64
		err := tx.QueryRowContext(ctx, `SELECT version, deleted FROM records WHERE resource = $1 AND subject = $2 ORDER BY version DESC LIMIT 1`,
			b.Resource, c.Subject).Scan(&last, &del)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			last, deleted = 0, true
		case err != nil:
			return nil, unavailable("read record version", err)
		default:
			deleted = del != 0
		}
		if c.Op == exchange.OpDelete && deleted {
			return nil, exchange.Errorf(exchange.KindFailedPrecondition, "NOTHING_TO_DELETE",
				"change %d deletes subject %s of resource %s, which has no live record: nothing in the batch was published", i+1, c.Subject, b.Resource).AtChange(i)
		}
		rec := &exchange.Record{Resource: b.Resource, Subject: c.Subject, Version: last + 1, Fields: c.Fields,
			Deleted: c.Op == exchange.OpDelete, PublishedAt: b.At.UTC().Truncate(time.Microsecond), PublishedBy: b.Provider, Batch: b.ID}
		rec.Seal = c.Seal
		_, err = tx.ExecContext(ctx, `INSERT INTO records (resource, subject, version, fields, deleted, published_at, published_by, batch, seal) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			rec.Resource, rec.Subject, rec.Version, exchange.FieldsJSON(rec.Fields), boolInt(rec.Deleted), at, rec.PublishedBy, rec.Batch, sealJSON(rec.Seal))
		if err != nil {
			if r.s.d.IsUniqueViolation(err) {
				return nil, exchange.Errorf(exchange.KindUnavailable, "PUBLISH_CONFLICT",
					"subject %s of resource %s was changed by a concurrent batch: nothing was published; send the batch again", c.Subject, b.Resource)
			}
			return nil, unavailable("insert record", err)
		}
		out = append(out, rec)
	}
	if err := touchLiveness(ctx, tx, b.Resource, at); err != nil {
		return nil, err
	}
	if err := r.s.appendChanges(ctx, tx, out); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		if r.s.d.IsUniqueViolation(err) {
			return nil, exchange.Errorf(exchange.KindUnavailable, "PUBLISH_CONFLICT", "a concurrent batch changed the same subjects: nothing was published; send the batch again")
		}
		return nil, unavailable("commit publish", err)
	}
	return out, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func touchLiveness(ctx context.Context, x interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, resource string, at int64) error {
	_, err := x.ExecContext(ctx, `INSERT INTO resource_liveness (resource, last_at) VALUES ($1, $2)
ON CONFLICT (resource) DO UPDATE SET last_at = excluded.last_at WHERE resource_liveness.last_at < excluded.last_at`, resource, at)
	if err != nil {
		return unavailable("record resource liveness", err)
	}
	return nil
}

const recordColumns = `resource, subject, version, fields, deleted, published_at, published_by, batch, seal`

func scanRecord(row interface{ Scan(...any) error }) (*exchange.Record, error) {
	var (
		rec    exchange.Record
		fields string
		del    int64
		at     int64
		seal   string
	)
	if err := row.Scan(&rec.Resource, &rec.Subject, &rec.Version, &fields, &del, &at, &rec.PublishedBy, &rec.Batch, &seal); err != nil {
		return nil, err
	}
	var err error
	if rec.Seal, err = parseSeal(seal); err != nil {
		return nil, fmt.Errorf("stored record %s/%s v%d: its seal does not decode: %w", rec.Resource, rec.Subject, rec.Version, err)
	}
	if err := json.Unmarshal([]byte(fields), &rec.Fields); err != nil {
		return nil, fmt.Errorf("stored record %s/%s v%d does not decode: %w", rec.Resource, rec.Subject, rec.Version, err)
	}
	if len(rec.Fields) == 0 {
		rec.Fields = nil
	}
	rec.Deleted = del != 0
	rec.PublishedAt = time.UnixMicro(at).UTC()
	return &rec, nil
}

func notFoundRecord(resource, subject string) error {
	return exchange.Errorf(exchange.KindNotFound, "RECORD_NOT_FOUND", "resource %s holds no record for subject %s", resource, subject)
}

func (r records) Latest(ctx context.Context, resource, subject string) (*exchange.Record, error) {
	rec, err := scanRecord(r.s.queryRow(ctx, `SELECT `+recordColumns+` FROM records WHERE resource = $1 AND subject = $2 ORDER BY version DESC LIMIT 1`, resource, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundRecord(resource, subject)
	}
	if err != nil {
		return nil, unavailable("read record", err)
	}
	return rec, nil
}

func (r records) Version(ctx context.Context, resource, subject string, version int64) (*exchange.Record, error) {
	rec, err := scanRecord(r.s.queryRow(ctx, `SELECT `+recordColumns+` FROM records WHERE resource = $1 AND subject = $2 AND version = $3`, resource, subject, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "RECORD_VERSION_NOT_FOUND", "resource %s holds no version %d for subject %s", resource, version, subject)
	}
	if err != nil {
		return nil, unavailable("read record version", err)
	}
	return rec, nil
}

// queryRecords reads the records a query selects (recordColumns); what names the read
// in errors.
func (r records) queryRecords(ctx context.Context, what, q string, args ...any) ([]*exchange.Record, error) {
	rows, err := r.s.query(ctx, q, args...)
	if err != nil {
		return nil, unavailable(what, err)
	}
	defer rows.Close()
	var out []*exchange.Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, unavailable(what, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(what, err)
	}
	return out, nil
}

func (r records) History(ctx context.Context, resource, subject string) ([]*exchange.Record, error) {
	out, err := r.queryRecords(ctx, "record history", `SELECT `+recordColumns+` FROM records WHERE resource = $1 AND subject = $2 ORDER BY version`, resource, subject)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, notFoundRecord(resource, subject)
	}
	return out, nil
}

func (r records) Batch(ctx context.Context, id string) (*exchange.Batch, error) {
	var b exchange.Batch
	var n int
	var at int64
	var pub sql.NullInt64
	err := r.s.queryRow(ctx, `SELECT id, resource, provider, changes, at, evidence, body_digest, publish_record FROM record_batches WHERE id = $1`, id).
		Scan(&b.ID, &b.Resource, &b.Provider, &n, &at, &b.Evidence, &b.BodyDigest, &pub)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "BATCH_NOT_FOUND", "no batch %s was published", id)
	}
	if err != nil {
		return nil, unavailable("read batch", err)
	}
	b.At = time.UnixMicro(at).UTC()
	if pub.Valid {
		i := uint64(pub.Int64)
		b.PublishRecord = &i
	}
	return &b, nil
}

func (r records) SetPublishRecord(ctx context.Context, batch string, index uint64) error {
	res, err := r.s.db.ExecContext(ctx, `UPDATE record_batches SET publish_record = $1 WHERE id = $2 AND (publish_record IS NULL OR publish_record = $3)`, int64(index), batch, int64(index))
	if err != nil {
		return unavailable("record the publish audit record", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("record the publish audit record", err)
	} else if n == 0 {
		return exchange.Errorf(exchange.KindFailedPrecondition, "PUBLISH_RECORD_CONFLICT", "batch %s is unknown or already vouched for by another publish audit record", batch)
	}
	return nil
}

func (r records) BatchRecords(ctx context.Context, id string) ([]*exchange.Record, error) {
	return r.queryRecords(ctx, "read batch records", `SELECT `+recordColumns+` FROM records WHERE batch = $1`, id)
}

func (r records) Heartbeat(ctx context.Context, resource string, at time.Time) error {
	return touchLiveness(ctx, r.s.db, resource, at.UnixMicro())
}

func (r records) LastUpdates(ctx context.Context) (map[string]time.Time, error) {
	rows, err := r.s.query(ctx, `SELECT resource, last_at FROM resource_liveness`)
	if err != nil {
		return nil, unavailable("read liveness", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var res string
		var at int64
		if err := rows.Scan(&res, &at); err != nil {
			return nil, unavailable("read liveness", err)
		}
		out[res] = time.UnixMicro(at).UTC()
	}
	return out, rows.Err()
}

func (r records) LastUpdate(ctx context.Context, resource string) (time.Time, error) {
	var at int64
	err := r.s.queryRow(ctx, `SELECT last_at FROM resource_liveness WHERE resource = $1`, resource).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, unavailable("read liveness", err)
	}
	return time.UnixMicro(at).UTC(), nil
}

type objections struct{ s *Store }

func init() {
	register(migration{51, "objection deadlines, escalation and the correcting version", `
ALTER TABLE objections ADD COLUMN deadline {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE objections ADD COLUMN escalated_at {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE objections ADD COLUMN corrected_version {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE objections ADD COLUMN deadline_provisional INTEGER NOT NULL DEFAULT 0;
CREATE INDEX objections_due ON objections (state, escalated_at, deadline)
`})
}

const objectionColumns = `id, resource, subject, record_version, consumer, provider, items, body, state, raised_at, raised_evidence, resolved_at, resolved_by, resolution, resolved_evidence, deadline, escalated_at, corrected_version, deadline_provisional`

func (o objections) Raise(ctx context.Context, ob *exchange.Objection) error {
	_, err := o.s.exec(ctx, `INSERT INTO objections (`+objectionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, '', '', '', $12, 0, 0, $13)`,
		ob.ID, ob.Resource, ob.Subject, ob.RecordVersion, ob.Consumer, ob.Provider, strings.Join(ob.Items, ","), ob.Text, string(exchange.ObjectionOpen),
		ob.RaisedAt.UnixMicro(), ob.RaisedEvidence, micro(ob.Deadline), boolInt(ob.DeadlineProvisional))
	if err != nil {
		if o.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "OBJECTION_EXISTS", "objection %s exists already", ob.ID)
		}
		return unavailable("raise objection", err)
	}
	ob.State = exchange.ObjectionOpen
	return nil
}

func scanObjection(row interface{ Scan(...any) error }) (*exchange.Objection, error) {
	var (
		ob                                    exchange.Objection
		items, state                          string
		raised, resolved, deadline, escalated int64
		provisional                           int64
	)
	if err := row.Scan(&ob.ID, &ob.Resource, &ob.Subject, &ob.RecordVersion, &ob.Consumer, &ob.Provider, &items, &ob.Text, &state,
		&raised, &ob.RaisedEvidence, &resolved, &ob.ResolvedBy, &ob.Resolution, &ob.ResolvedEvidence, &deadline, &escalated, &ob.CorrectedVersion, &provisional); err != nil {
		return nil, err
	}
	if items != "" {
		ob.Items = strings.Split(items, ",")
	}
	ob.State = exchange.ObjectionState(state)
	ob.RaisedAt = time.UnixMicro(raised).UTC()
	ob.ResolvedAt, ob.Deadline, ob.EscalatedAt = fromMicro(resolved), fromMicro(deadline), fromMicro(escalated)
	ob.DeadlineProvisional = provisional != 0
	return &ob, nil
}

func (o objections) Get(ctx context.Context, id string) (*exchange.Objection, error) {
	ob, err := scanObjection(o.s.queryRow(ctx, `SELECT `+objectionColumns+` FROM objections WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "OBJECTION_NOT_FOUND", "no objection %s", id)
	}
	if err != nil {
		return nil, unavailable("read objection", err)
	}
	return ob, nil
}

func (o objections) scan(ctx context.Context, op, q string, args ...any) ([]*exchange.Objection, error) {
	rows, err := o.s.db.QueryContext(ctx, q, args...) // built per call: not cached
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer rows.Close()
	var out []*exchange.Objection
	for rows.Next() {
		ob, err := scanObjection(rows)
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, ob)
	}
	return out, rows.Err()
}

func (o objections) List(ctx context.Context, f store.ObjectionFilter, limit int) ([]*exchange.Objection, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	q := `SELECT ` + objectionColumns + ` FROM objections WHERE 1 = 1`
	var args []any
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			q += fmt.Sprintf(` AND %s = $%d`, col, len(args))
		}
	}
	add("provider", f.Provider)
	add("consumer", f.Consumer)
	add("resource", f.Resource)
	add("state", string(f.State))
	if f.Escalated {
		q += ` AND escalated_at > 0`
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY raised_at DESC, id LIMIT $%d`, len(args))
	return o.scan(ctx, "list objections", q, args...)
}

func (o objections) Resolve(ctx context.Context, ob *exchange.Objection) error {
	if ob.State != exchange.ObjectionCorrected && ob.State != exchange.ObjectionRejected {
		return exchange.Errorf(exchange.KindInvalid, "OBJECTION_STATE_INVALID", "an objection is resolved as corrected or rejected, not %q", ob.State)
	}
	res, err := o.s.exec(ctx, `UPDATE objections SET state = $1, resolved_at = $2, resolved_by = $3, resolution = $4, resolved_evidence = $5, corrected_version = $6
WHERE id = $7 AND state = $8`,
		string(ob.State), micro(ob.ResolvedAt), ob.ResolvedBy, ob.Resolution, ob.ResolvedEvidence, ob.CorrectedVersion, ob.ID, string(exchange.ObjectionOpen))
	if err != nil {
		return unavailable("resolve objection", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		cur, err := o.Get(ctx, ob.ID)
		if err != nil {
			return err
		}
		return exchange.Errorf(exchange.KindFailedPrecondition, "OBJECTION_NOT_OPEN", "objection %s was already resolved (%s by %s)", ob.ID, cur.State, cur.ResolvedBy)
	}
	return nil
}

func (o objections) Escalate(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := o.s.exec(ctx, `UPDATE objections SET escalated_at = $1 WHERE id = $2 AND state = $3 AND escalated_at = 0`,
		micro(at), id, string(exchange.ObjectionOpen))
	if err != nil {
		return false, unavailable("escalate objection", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, unavailable("escalate objection", err)
	}
	return n == 1, nil
}

func (o objections) Overdue(ctx context.Context, now time.Time, limit int) ([]*exchange.Objection, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return o.scan(ctx, "list overdue objections", `SELECT `+objectionColumns+` FROM objections
WHERE state = $1 AND escalated_at = 0 AND deadline > 0 AND deadline <= $2 ORDER BY deadline, id LIMIT $3`,
		string(exchange.ObjectionOpen), now.UnixMicro(), limit)
}
