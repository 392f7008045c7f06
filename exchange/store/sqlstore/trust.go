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
	register(migration{71, "trust store: trust bundle versions and CRL sources", `
CREATE TABLE trust_bundles (
	version   {{int64}} PRIMARY KEY,
	pem       TEXT NOT NULL,
	sm3       TEXT NOT NULL,
	loaded_by TEXT NOT NULL,
	loaded_at {{int64}} NOT NULL,
	note      TEXT NOT NULL
);
CREATE TABLE crl_sources (
	id              {{autoid}},
	location        TEXT NOT NULL UNIQUE,
	note            TEXT NOT NULL,
	added_by        TEXT NOT NULL,
	added_at        {{int64}} NOT NULL,
	der             {{blob}},
	issuer          TEXT NOT NULL,
	this_update     {{int64}} NOT NULL,
	next_update     {{int64}} NOT NULL,
	fetched_at      {{int64}} NOT NULL,
	revoked         INTEGER NOT NULL,
	last_attempt_at {{int64}} NOT NULL,
	last_error      TEXT NOT NULL
);
`})
	register(migration{72, "sealed documents", `
CREATE TABLE sealed_documents (
	sm3              TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	department       TEXT NOT NULL,
	esid             TEXT NOT NULL,
	signed_at        {{int64}} NOT NULL,
	registered_at    {{int64}} NOT NULL,
	signatures       INTEGER NOT NULL,
	ecert_identifier TEXT NOT NULL,
	size             {{int64}} NOT NULL,
	content          {{blob}} NOT NULL
);
CREATE INDEX sealed_documents_department ON sealed_documents (department, registered_at);
`})
}

type trustStore struct{ s *Store }

// queryAll runs q and scans every row with scan; what names the operation in errors.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, unavailable(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, unavailable(what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(what, err)
	}
	return out, nil
}

// Trust implements store.Store.
func (s *Store) Trust() store.Trust { return trustStore{s} }

func (t trustStore) PutBundle(ctx context.Context, b *store.TrustBundle, expected int64) error {
	tx, err := t.s.begin(ctx, nil)
	if err != nil {
		return unavailable("put trust bundle", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM trust_bundles`).Scan(&cur); err != nil {
		return unavailable("put trust bundle", err)
	}
	if cur.Int64 != expected {
		return exchange.Errorf(exchange.KindFailedPrecondition, "TRUST_VERSION_CONFLICT", "the trust bundle is at version %d, not %d: read it again and load your bundle on top of the current version", cur.Int64, expected)
	}
	b.Version = expected + 1
	if _, err := tx.ExecContext(ctx, `INSERT INTO trust_bundles (version, pem, sm3, loaded_by, loaded_at, note) VALUES ($1, $2, $3, $4, $5, $6)`,
		b.Version, b.PEM, b.SM3, b.LoadedBy, micros(b.LoadedAt), b.Note); err != nil {
		if t.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindFailedPrecondition, "TRUST_VERSION_CONFLICT", "another coordinator loaded version %d at the same time: read the trust store again", b.Version)
		}
		return unavailable("put trust bundle", err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable("put trust bundle", err)
	}
	return nil
}

const bundleCols = `version, pem, sm3, loaded_by, loaded_at, note`

func scanBundle(sc interface{ Scan(...any) error }) (*store.TrustBundle, error) {
	var b store.TrustBundle
	var at int64
	if err := sc.Scan(&b.Version, &b.PEM, &b.SM3, &b.LoadedBy, &at, &b.Note); err != nil {
		return nil, err
	}
	b.LoadedAt = fromMicros(at)
	return &b, nil
}

func (t trustStore) CurrentBundle(ctx context.Context) (*store.TrustBundle, error) {
	b, err := scanBundle(t.s.queryRow(ctx, `SELECT `+bundleCols+` FROM trust_bundles ORDER BY version DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read trust bundle", err)
	}
	return b, nil
}

func (t trustStore) ListBundles(ctx context.Context) ([]*store.TrustBundle, error) {
	return queryAll(ctx, t.s, "list trust bundles", scanBundle, `SELECT `+bundleCols+` FROM trust_bundles ORDER BY version DESC`)
}

func (t trustStore) AddCRLSource(ctx context.Context, src *store.CRLSource) error {
	if src.Location == "" {
		return exchange.Errorf(exchange.KindInvalid, "CRL_SOURCE_INVALID", "a CRL source needs a location")
	}
	err := t.s.queryRow(ctx, `INSERT INTO crl_sources (location, note, added_by, added_at, issuer, this_update, next_update, fetched_at, revoked, last_attempt_at, last_error)
VALUES ($1, $2, $3, $4, '', 0, 0, 0, 0, 0, '') RETURNING id`, src.Location, src.Note, src.AddedBy, micros(src.AddedAt)).Scan(&src.ID)
	if err != nil {
		if t.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "CRL_SOURCE_EXISTS", "%s is already a CRL source", src.Location)
		}
		return unavailable("add CRL source", err)
	}
	return nil
}

func (t trustStore) RemoveCRLSource(ctx context.Context, id int64) error {
	res, err := t.s.exec(ctx, `DELETE FROM crl_sources WHERE id = $1`, id)
	if err != nil {
		return unavailable("remove CRL source", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("remove CRL source", err)
	} else if n == 0 {
		return exchange.Errorf(exchange.KindNotFound, "CRL_SOURCE_NOT_FOUND", "there is no CRL source %d", id)
	}
	return nil
}

func scanCRLSource(sc interface{ Scan(...any) error }) (*store.CRLSource, error) {
	var c store.CRLSource
	var added, this, next, fetched, attempt int64
	if err := sc.Scan(&c.ID, &c.Location, &c.Note, &c.AddedBy, &added, &c.DER, &c.Issuer, &this, &next, &fetched, &c.Revoked, &attempt, &c.LastError); err != nil {
		return nil, err
	}
	c.AddedAt, c.ThisUpdate, c.NextUpdate, c.FetchedAt, c.LastAttemptAt = fromMicros(added), fromMicros(this), fromMicros(next), fromMicros(fetched), fromMicros(attempt)
	return &c, nil
}

func (t trustStore) ListCRLSources(ctx context.Context) ([]*store.CRLSource, error) {
	return queryAll(ctx, t.s, "list CRL sources", scanCRLSource, `SELECT id, location, note, added_by, added_at, der, issuer, this_update, next_update, fetched_at, revoked, last_attempt_at, last_error
FROM crl_sources ORDER BY id`)
}

func (t trustStore) RecordCRL(ctx context.Context, id int64, c *store.FetchedCRL) error {
	// Compare-and-set on thisUpdate: a CRL never goes back in time.
	res, err := t.s.exec(ctx, `UPDATE crl_sources SET der = $1, issuer = $2, this_update = $3, next_update = $4, fetched_at = $5, revoked = $6,
	last_attempt_at = $5, last_error = '' WHERE id = $7 AND this_update <= $3`,
		c.DER, c.Issuer, micros(c.ThisUpdate), micros(c.NextUpdate), micros(c.FetchedAt), c.Revoked, id)
	if err != nil {
		return unavailable("record CRL", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("record CRL", err)
	} else if n == 0 {
		var this int64
		if err := t.s.queryRow(ctx, `SELECT this_update FROM crl_sources WHERE id = $1`, id).Scan(&this); errors.Is(err, sql.ErrNoRows) {
			return exchange.Errorf(exchange.KindNotFound, "CRL_SOURCE_NOT_FOUND", "there is no CRL source %d", id)
		} else if err != nil {
			return unavailable("record CRL", err)
		}
		return exchange.Errorf(exchange.KindFailedPrecondition, "CRL_OLDER", "the CRL fetched (thisUpdate %s) is older than the one in use (%s): kept the newer one",
			c.ThisUpdate.UTC().Format(time.RFC3339), fromMicros(this).Format(time.RFC3339))
	}
	return nil
}

func (t trustStore) RecordCRLError(ctx context.Context, id int64, at time.Time, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if _, err := t.s.exec(ctx, `UPDATE crl_sources SET last_attempt_at = $1, last_error = $2 WHERE id = $3`, micros(at), msg, id); err != nil {
		return unavailable("record CRL fetch", err)
	}
	return nil
}

func (c certs) PutSealedDocument(ctx context.Context, d *store.SealedDocument) error {
	if d.SM3 == "" || d.Department == "" || len(d.Content) == 0 {
		return exchange.Errorf(exchange.KindInvalid, "SEALED_DOCUMENT_INVALID", "a sealed document needs its SM3, department and content")
	}
	_, err := c.s.exec(ctx, `INSERT INTO sealed_documents (sm3, name, department, esid, signed_at, registered_at, signatures, ecert_identifier, size, content)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, d.SM3, d.Name, d.Department, d.ESID, micros(d.SignedAt), micros(d.RegisteredAt), d.Signatures, d.ECertIdentifier, d.Size, d.Content)
	if err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "SEALED_DOCUMENT_EXISTS", "a document with SM3 %s is already registered", d.SM3)
		}
		return unavailable("put sealed document", err)
	}
	return nil
}

const docCols = `sm3, name, department, esid, signed_at, registered_at, signatures, ecert_identifier, size`

func scanDoc(sc interface{ Scan(...any) error }, content bool) (*store.SealedDocument, error) {
	var d store.SealedDocument
	var signed, reg int64
	dest := []any{&d.SM3, &d.Name, &d.Department, &d.ESID, &signed, &reg, &d.Signatures, &d.ECertIdentifier, &d.Size}
	if content {
		dest = append(dest, &d.Content)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	d.SignedAt, d.RegisteredAt = fromMicros(signed), fromMicros(reg)
	return &d, nil
}

func (c certs) GetSealedDocument(ctx context.Context, sm3 string) (*store.SealedDocument, error) {
	d, err := scanDoc(c.s.queryRow(ctx, `SELECT `+docCols+`, content FROM sealed_documents WHERE sm3 = $1`, sm3), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "SEALED_DOCUMENT_NOT_FOUND", "no sealed document with SM3 %s is registered at this hub", sm3)
	}
	if err != nil {
		return nil, unavailable("get sealed document", err)
	}
	return d, nil
}

func (c certs) ListSealedDocuments(ctx context.Context, dept string) ([]*store.SealedDocument, error) {
	return queryAll(ctx, c.s, "list sealed documents", func(sc interface{ Scan(...any) error }) (*store.SealedDocument, error) { return scanDoc(sc, false) },
		`SELECT `+docCols+` FROM sealed_documents WHERE department = $1 ORDER BY registered_at DESC, sm3`, dept)
}
