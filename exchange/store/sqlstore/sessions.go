package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Browser sessions of the web pages (cmd/gxhub/internal/web): a department signs in with a
// single-use login token and gets a session cookie. Only the SM3 of the cookie value is
// stored, so a copy of the database does not yield live sessions. Versions 80–89.
func init() {
	register(migration{80, "web sessions", `
CREATE TABLE web_sessions (
	id_hash    TEXT PRIMARY KEY,
	department TEXT NOT NULL,
	created_at {{int64}} NOT NULL,
	expires_at {{int64}} NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
`})
}

// ErrSessionNotFound is returned by Sessions.Get for an unknown, expired or deleted session.
var ErrSessionNotFound = exchange.Errorf(exchange.KindUnauthenticated, "SESSION_INVALID",
	"the browser session is unknown or expired: sign in again with `gxctl --identity DIR web`")

// Sessions is the table of browser sessions. It is not part of store.Store: the hub reaches it
// through (*Store).Sessions.
type Sessions struct{ s *Store }

// Sessions returns the browser session table.
func (s *Store) Sessions() Sessions { return Sessions{s} }

// Create records a session. idHash must be unique (a random value's digest); a collision
// is an error.
func (r Sessions) Create(ctx context.Context, idHash, department string, created, expires time.Time) error {
	if idHash == "" || department == "" {
		return exchange.Errorf(exchange.KindInvalid, "SESSION_INVALID", "a session needs an id digest and a department")
	}
	_, err := r.s.exec(ctx, `INSERT INTO web_sessions (id_hash, department, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		idHash, department, created.UnixMicro(), expires.UnixMicro())
	if err != nil {
		if r.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "SESSION_EXISTS", "a session with this id already exists: generate a new random id")
		}
		return unavailable("create session", err)
	}
	return nil
}

// Get returns the department and expiry of the session, or ErrSessionNotFound when it is
// unknown or expired at now.
func (r Sessions) Get(ctx context.Context, idHash string, now time.Time) (string, time.Time, error) {
	var dept string
	var exp int64
	err := r.s.queryRow(ctx, `SELECT department, expires_at FROM web_sessions WHERE id_hash = $1`, idHash).Scan(&dept, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, ErrSessionNotFound
	}
	if err != nil {
		return "", time.Time{}, unavailable("read session", err)
	}
	expires := time.UnixMicro(exp)
	if !now.Before(expires) {
		return "", time.Time{}, ErrSessionNotFound
	}
	return dept, expires, nil
}

// Delete removes the session (sign-out). Deleting an unknown session is not an error.
func (r Sessions) Delete(ctx context.Context, idHash string) error {
	if _, err := r.s.exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash); err != nil {
		return unavailable("delete session", err)
	}
	return nil
}

// Purge deletes sessions that expired before now and returns how many.
func (r Sessions) Purge(ctx context.Context, now time.Time) (int64, error) {
	res, err := r.s.exec(ctx, `DELETE FROM web_sessions WHERE expires_at < $1`, now.UnixMicro())
	if err != nil {
		return 0, unavailable("purge sessions", err)
	}
	return res.RowsAffected()
}
