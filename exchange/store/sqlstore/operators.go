package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{2, "operators with their own certificates (D1, E6)", `
CREATE TABLE operators (
	serial        TEXT PRIMARY KEY,
	department    TEXT NOT NULL,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	status        TEXT NOT NULL,
	certificate   {{blob}} NOT NULL,
	not_before    {{int64}} NOT NULL,
	not_after     {{int64}} NOT NULL,
	enrolled_by   TEXT NOT NULL,
	enrolled_at   {{int64}} NOT NULL,
	status_reason TEXT NOT NULL,
	status_at     {{int64}} NOT NULL
);
CREATE INDEX operators_department ON operators (department, serial);
`})
	register(migration{3, "signed request envelopes behind audit records (E5, E6)", `
CREATE TABLE request_evidence (
	digest      {{blob}} PRIMARY KEY,
	envelope    TEXT NOT NULL,
	signer_cert {{blob}} NOT NULL
);
`})
}

// Operators implements store.Store.
func (s *Store) Operators() store.Operators { return operators{s} }

// Evidence implements store.Store.
func (s *Store) Evidence() store.Evidence { return evidence{s} }

type operators struct{ s *Store }

const operatorColumns = `serial, department, name, role, status, certificate, not_before, not_after, enrolled_by, enrolled_at, status_reason, status_at`

func (r operators) Create(ctx context.Context, o *exchange.Operator) error {
	if o.Serial == "" || o.Department == "" || len(o.Certificate) == 0 || o.Status == "" {
		return exchange.Errorf(exchange.KindInvalid, "OPERATOR_INCOMPLETE", "an operator needs a serial, a department, a certificate and a status")
	}
	_, err := r.s.exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		o.Serial, o.Department, o.Name, o.Role, string(o.Status), o.Certificate, micros(o.NotBefore), micros(o.NotAfter),
		o.EnrolledBy, micros(o.EnrolledAt), o.StatusReason, micros(o.StatusAt))
	if err != nil {
		if r.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "OPERATOR_EXISTS", "an operator with certificate serial %s exists", o.Serial)
		}
		return unavailable("create operator", err)
	}
	return nil
}

func scanOperator(row interface{ Scan(...any) error }) (*exchange.Operator, error) {
	var (
		o                                  exchange.Operator
		status                             string
		notBefore, notAfter, enrolled, sat int64
	)
	if err := row.Scan(&o.Serial, &o.Department, &o.Name, &o.Role, &status, &o.Certificate, &notBefore, &notAfter,
		&o.EnrolledBy, &enrolled, &o.StatusReason, &sat); err != nil {
		return nil, err
	}
	o.Status = exchange.OperatorStatus(status)
	o.NotBefore, o.NotAfter, o.EnrolledAt, o.StatusAt = fromMicros(notBefore), fromMicros(notAfter), fromMicros(enrolled), fromMicros(sat)
	return &o, nil
}

func (r operators) Get(ctx context.Context, serial string) (*exchange.Operator, error) {
	o, err := scanOperator(r.s.queryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE serial = $1`, serial))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "OPERATOR_NOT_FOUND", "no operator with certificate serial %q is enrolled", serial)
	}
	if err != nil {
		return nil, unavailable("get operator", err)
	}
	return o, nil
}

func (r operators) List(ctx context.Context, department string) ([]*exchange.Operator, error) {
	rows, err := r.s.query(ctx, `SELECT `+operatorColumns+` FROM operators WHERE department = $1 ORDER BY serial`, department)
	if err != nil {
		return nil, unavailable("list operators", err)
	}
	defer rows.Close()
	var out []*exchange.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, unavailable("list operators", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list operators", err)
	}
	return out, nil
}

func (r operators) SetStatus(ctx context.Context, o *exchange.Operator, from exchange.OperatorStatus) error {
	res, err := r.s.exec(ctx, `UPDATE operators SET status = $1, status_reason = $2, status_at = $3 WHERE serial = $4 AND status = $5`,
		string(o.Status), o.StatusReason, micros(o.StatusAt), o.Serial, string(from))
	if err != nil {
		return unavailable("change operator status", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("change operator status", err)
	} else if n != 1 {
		return exchange.Errorf(exchange.KindFailedPrecondition, "OPERATOR_CHANGED",
			"operator %s is no longer %s (another change came first, or it does not exist): list the operators and try again", o.Serial, from)
	}
	return nil
}

type evidence struct{ s *Store }

// Put implements store.Evidence.

func (e evidence) Put(ctx context.Context, digest []byte, envelope string, signerCert []byte) error {
	if len(digest) != 32 || envelope == "" || len(signerCert) == 0 {
		return exchange.Errorf(exchange.KindInvalid, "EVIDENCE_INCOMPLETE", "request evidence needs an SM3 digest, an envelope and the signer's certificate")
	}
	// The relaxed pool (no wait for a flush): the envelope is written before the audit
	// record that commits to it, and that record is appended to the log in this same
	// database with a flushed commit; the database's log (SQLite's WAL, PostgreSQL's WAL) is
	// flushed in order, so the envelope is durable whenever its record is. Waiting for a
	// flush of its own would cost every audited request one more.
	if _, err := e.s.execOn(ctx, e.s.relaxedPool(), `INSERT INTO request_evidence (digest, envelope, signer_cert) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING`,
		digest, envelope, signerCert); err != nil {
		return unavailable("store request evidence", err)
	}
	return nil
}

func (e evidence) Get(ctx context.Context, digest []byte) (string, []byte, error) {
	var (
		env  string
		cert []byte
	)
	err := e.s.queryRow(ctx, `SELECT envelope, signer_cert FROM request_evidence WHERE digest = $1`, digest).Scan(&env, &cert)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, exchange.Errorf(exchange.KindNotFound, "AUDIT_NO_REQUEST", "no signed request is kept under this digest")
	}
	if err != nil {
		return "", nil, unavailable("get request evidence", err)
	}
	return env, cert, nil
}
