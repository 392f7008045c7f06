package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{70, "e-certificate registry and seals", `
CREATE TABLE ecert_types (
	code          TEXT PRIMARY KEY,
	definer       TEXT NOT NULL,
	body          TEXT NOT NULL,
	registered_at {{int64}} NOT NULL
);
CREATE TABLE ecerts (
	identifier    TEXT PRIMARY KEY,
	type_code     TEXT NOT NULL,
	issuer_code   TEXT NOT NULL,
	holder_code   TEXT NOT NULL,
	holder_name   TEXT NOT NULL,
	name          TEXT NOT NULL,
	version       INTEGER NOT NULL,
	sealed        TEXT NOT NULL,
	sealed_sm3    TEXT NOT NULL,
	metadata      TEXT NOT NULL,
	issued_at     {{int64}} NOT NULL,
	registered_at {{int64}} NOT NULL,
	status        TEXT NOT NULL,
	status_reason TEXT NOT NULL,
	status_since  {{int64}} NOT NULL
);
CREATE INDEX ecerts_holder ON ecerts (holder_code, registered_at);
CREATE TABLE ecert_events (
	identifier TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	status     TEXT NOT NULL,
	at         {{int64}} NOT NULL,
	reason     TEXT NOT NULL,
	by_dept    TEXT NOT NULL,
	PRIMARY KEY (identifier, seq)
);
CREATE TABLE seals (
	esid          TEXT PRIMARY KEY,
	department    TEXT NOT NULL,
	name          TEXT NOT NULL,
	der           {{blob}} NOT NULL,
	made_at       {{int64}} NOT NULL,
	valid_to      {{int64}} NOT NULL,
	revoked_at    {{int64}} NOT NULL,
	revoke_reason TEXT NOT NULL
);
CREATE INDEX seals_department ON seals (department, made_at);
`})
}

type certs struct{ s *Store }

// Certs implements store.Store.
func (s *Store) Certs() store.Certs { return certs{s} }

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func (c certs) PutType(ctx context.Context, t *store.CertType) error {
	if t.Code == "" || t.Body == "" {
		return exchange.Errorf(exchange.KindInvalid, "ECERT_TYPE_INVALID", "licence type code and body are required")
	}
	_, err := c.s.exec(ctx, `INSERT INTO ecert_types (code, definer, body, registered_at) VALUES ($1, $2, $3, $4)`,
		t.Code, t.Definer, t.Body, micros(t.RegisteredAt))
	if err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "ECERT_TYPE_EXISTS", "licence type %s is already registered: choose another 3-digit suffix", t.Code)
		}
		return unavailable("put licence type", err)
	}
	return nil
}

func (c certs) ListTypes(ctx context.Context) ([]*store.CertType, error) {
	rows, err := c.s.query(ctx, `SELECT code, definer, body, registered_at FROM ecert_types ORDER BY code`)
	if err != nil {
		return nil, unavailable("list licence types", err)
	}
	defer rows.Close()
	var out []*store.CertType
	for rows.Next() {
		var t store.CertType
		var at int64
		if err := rows.Scan(&t.Code, &t.Definer, &t.Body, &at); err != nil {
			return nil, unavailable("list licence types", err)
		}
		t.RegisteredAt = fromMicros(at)
		out = append(out, &t)
	}
	return out, rows.Err()
}

func conflict(id string, cur store.ECertStatus) error {
	return exchange.Errorf(exchange.KindFailedPrecondition, "ECERT_STATUS_CONFLICT",
		"e-certificate %s is %s: that status does not allow this change (revoked, annulled and superseded are final; read the status and try again)", id, cur)
}

func (c certs) currentStatus(ctx context.Context, tx *txn, id string) (store.ECertStatus, error) {
	var st string
	err := tx.QueryRowContext(ctx, `SELECT status FROM ecerts WHERE identifier = $1`, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", exchange.Errorf(exchange.KindNotFound, "ECERT_NOT_FOUND", "e-certificate %s is not registered at this hub", id)
	}
	if err != nil {
		return "", unavailable("read e-certificate status", err)
	}
	return store.ECertStatus(st), nil
}

func addEvent(ctx context.Context, tx *txn, id string, ev store.ECertEvent) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ecert_events (identifier, seq, status, at, reason, by_dept)
SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM ecert_events WHERE identifier = $1`,
		id, string(ev.Status), micros(ev.At), ev.Reason, ev.By)
	return err
}

// cas moves id from one status to another inside tx.
func (c certs) cas(ctx context.Context, tx *txn, id string, from, to store.ECertStatus, ev store.ECertEvent) error {
	res, err := tx.ExecContext(ctx, `UPDATE ecerts SET status = $1, status_reason = $2, status_since = $3 WHERE identifier = $4 AND status = $5`,
		string(to), ev.Reason, micros(ev.At), id, string(from))
	if err != nil {
		return unavailable("change e-certificate status", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("change e-certificate status", err)
	} else if n == 0 {
		cur, err := c.currentStatus(ctx, tx, id)
		if err != nil {
			return err
		}
		return conflict(id, cur)
	}
	ev.Status = to
	if err := addEvent(ctx, tx, id, ev); err != nil {
		return unavailable("record e-certificate status", err)
	}
	return nil
}

func (c certs) Issue(ctx context.Context, e *store.ECert, supersedes, by string) error {
	if e.Identifier == "" || e.Sealed == "" || e.IssuerCode == "" || e.HolderCode == "" || e.IssuedAt.IsZero() || e.RegisteredAt.IsZero() {
		return exchange.Errorf(exchange.KindInvalid, "ECERT_INVALID", "identifier, sealed token, issuer, holder, issue and registration times are required")
	}
	tx, err := c.s.begin(ctx, nil)
	if err != nil {
		return unavailable("issue e-certificate", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if supersedes != "" {
		cur, err := c.currentStatus(ctx, tx, supersedes)
		if err != nil {
			return err
		}
		if cur.Final() {
			return conflict(supersedes, cur)
		}
		if err := c.cas(ctx, tx, supersedes, cur, store.ECertSuperseded, store.ECertEvent{At: e.RegisteredAt, Reason: "superseded by " + e.Identifier, By: by}); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ecerts (identifier, type_code, issuer_code, holder_code, holder_name, name, version,
	sealed, sealed_sm3, metadata, issued_at, registered_at, status, status_reason, status_since)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, '', $14)`,
		e.Identifier, e.TypeCode, e.IssuerCode, e.HolderCode, e.HolderName, e.Name, e.Version,
		e.Sealed, e.SealedSM3, e.Metadata, micros(e.IssuedAt), micros(e.RegisteredAt), string(store.ECertActive), micros(e.IssuedAt))
	if err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "ECERT_EXISTS", "e-certificate %s is already registered: an update needs the next version number", e.Identifier)
		}
		return unavailable("issue e-certificate", err)
	}
	if err := addEvent(ctx, tx, e.Identifier, store.ECertEvent{Status: store.ECertActive, At: e.IssuedAt, Reason: "issued", By: by}); err != nil {
		return unavailable("issue e-certificate", err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable("issue e-certificate", err)
	}
	e.Status, e.StatusReason, e.StatusSince = store.ECertActive, "", e.IssuedAt
	return nil
}

const ecertCols = `identifier, type_code, issuer_code, holder_code, holder_name, name, version, sealed, sealed_sm3, metadata,
	issued_at, registered_at, status, status_reason, status_since`

func scanECert(sc interface{ Scan(...any) error }) (*store.ECert, error) {
	var e store.ECert
	var iss, reg, since int64
	var st string
	if err := sc.Scan(&e.Identifier, &e.TypeCode, &e.IssuerCode, &e.HolderCode, &e.HolderName, &e.Name, &e.Version,
		&e.Sealed, &e.SealedSM3, &e.Metadata, &iss, &reg, &st, &e.StatusReason, &since); err != nil {
		return nil, err
	}
	e.IssuedAt, e.RegisteredAt, e.StatusSince, e.Status = fromMicros(iss), fromMicros(reg), fromMicros(since), store.ECertStatus(st)
	return &e, nil
}

func (c certs) Get(ctx context.Context, id string) (*store.ECert, error) {
	e, err := scanECert(c.s.queryRow(ctx, `SELECT `+ecertCols+` FROM ecerts WHERE identifier = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "ECERT_NOT_FOUND", "e-certificate %s is not registered at this hub", id)
	}
	if err != nil {
		return nil, unavailable("get e-certificate", err)
	}
	return e, nil
}

func (c certs) ListByHolder(ctx context.Context, holder string) ([]*store.ECert, error) {
	rows, err := c.s.query(ctx, `SELECT `+ecertCols+` FROM ecerts WHERE holder_code = $1 ORDER BY registered_at DESC, identifier DESC`, holder)
	if err != nil {
		return nil, unavailable("list e-certificates", err)
	}
	defer rows.Close()
	var out []*store.ECert
	for rows.Next() {
		e, err := scanECert(rows)
		if err != nil {
			return nil, unavailable("list e-certificates", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (c certs) ChangeStatus(ctx context.Context, id string, from, to store.ECertStatus, ev store.ECertEvent) error {
	if from.Final() {
		return conflict(id, from)
	}
	tx, err := c.s.begin(ctx, nil)
	if err != nil {
		return unavailable("change e-certificate status", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := c.cas(ctx, tx, id, from, to, ev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable("change e-certificate status", err)
	}
	return nil
}

func (c certs) StatusAt(ctx context.Context, id string, t time.Time) (*store.ECertEvent, error) {
	var ev store.ECertEvent
	var st string
	var at int64
	err := c.s.queryRow(ctx, `SELECT status, at, reason, by_dept FROM ecert_events WHERE identifier = $1 AND at <= $2
ORDER BY at DESC, seq DESC LIMIT 1`, id, t.UnixMicro()).Scan(&st, &at, &ev.Reason, &ev.By)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "ECERT_NOT_FOUND", "e-certificate %s was not registered at this hub at %s", id, t.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return nil, unavailable("e-certificate status", err)
	}
	ev.Status, ev.At = store.ECertStatus(st), fromMicros(at)
	return &ev, nil
}

func (c certs) History(ctx context.Context, id string) ([]*store.ECertEvent, error) {
	rows, err := c.s.query(ctx, `SELECT status, at, reason, by_dept FROM ecert_events WHERE identifier = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, unavailable("e-certificate history", err)
	}
	defer rows.Close()
	var out []*store.ECertEvent
	for rows.Next() {
		var ev store.ECertEvent
		var st string
		var at int64
		if err := rows.Scan(&st, &at, &ev.Reason, &ev.By); err != nil {
			return nil, unavailable("e-certificate history", err)
		}
		ev.Status, ev.At = store.ECertStatus(st), fromMicros(at)
		out = append(out, &ev)
	}
	return out, rows.Err()
}

func (c certs) PutSeal(ctx context.Context, s *store.Seal) error {
	if s.ESID == "" || s.Department == "" || len(s.DER) == 0 || s.MadeAt.IsZero() {
		return exchange.Errorf(exchange.KindInvalid, "SEAL_INVALID", "esID, department, DER and making time are required")
	}
	_, err := c.s.exec(ctx, `INSERT INTO seals (esid, department, name, der, made_at, valid_to, revoked_at, revoke_reason)
VALUES ($1, $2, $3, $4, $5, $6, 0, '')`, s.ESID, s.Department, s.Name, s.DER, micros(s.MadeAt), micros(s.ValidTo))
	if err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "SEAL_EXISTS", "seal %s already exists", s.ESID)
		}
		return unavailable("put seal", err)
	}
	return nil
}

const sealCols = `esid, department, name, der, made_at, valid_to, revoked_at, revoke_reason`

func scanSeal(sc interface{ Scan(...any) error }) (*store.Seal, error) {
	var s store.Seal
	var made, to, rev int64
	if err := sc.Scan(&s.ESID, &s.Department, &s.Name, &s.DER, &made, &to, &rev, &s.RevokeReason); err != nil {
		return nil, err
	}
	s.MadeAt, s.ValidTo, s.RevokedAt = fromMicros(made), fromMicros(to), fromMicros(rev)
	return &s, nil
}

func (c certs) GetSeal(ctx context.Context, esid string) (*store.Seal, error) {
	s, err := scanSeal(c.s.queryRow(ctx, `SELECT `+sealCols+` FROM seals WHERE esid = $1`, esid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "SEAL_NOT_FOUND", "seal %s was not made by this hub", esid)
	}
	if err != nil {
		return nil, unavailable("get seal", err)
	}
	return s, nil
}

func (c certs) ListSeals(ctx context.Context, dept string) ([]*store.Seal, error) {
	rows, err := c.s.query(ctx, `SELECT `+sealCols+` FROM seals WHERE department = $1 ORDER BY made_at DESC, esid DESC`, dept)
	if err != nil {
		return nil, unavailable("list seals", err)
	}
	defer rows.Close()
	var out []*store.Seal
	for rows.Next() {
		s, err := scanSeal(rows)
		if err != nil {
			return nil, unavailable("list seals", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (c certs) RevokeSeal(ctx context.Context, esid string, at time.Time, reason string) error {
	if at.IsZero() {
		return exchange.Errorf(exchange.KindInvalid, "SEAL_REVOKE_TIME", "revocation time is required")
	}
	res, err := c.s.exec(ctx, `UPDATE seals SET revoked_at = $1, revoke_reason = $2 WHERE esid = $3 AND revoked_at = 0`, micros(at), reason, esid)
	if err != nil {
		return unavailable("revoke seal", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("revoke seal", err)
	} else if n == 0 {
		if _, err := c.GetSeal(ctx, esid); err != nil {
			return err
		}
		return exchange.Errorf(exchange.KindFailedPrecondition, "SEAL_REVOKED", "seal %s is already revoked", esid)
	}
	return nil
}
