package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// Certificate lifecycle (exchange/certstatus.go): the state of every certificate the hub's
// CA issued that is not simply active. Versions 125–129.
func init() {
	register(migration{125, "certificate status: revocations and suspensions by the coordinator", `
CREATE TABLE certificate_status (
	serial     TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	state      TEXT NOT NULL,
	reason     INTEGER NOT NULL,
	since      {{int64}} NOT NULL,
	changed_by TEXT NOT NULL,
	evidence   TEXT NOT NULL
);
CREATE INDEX certificate_status_subject ON certificate_status (subject);
`})
	register(migration{126, "certificate status: the superseded certificate kept for the re-key overlap", `
ALTER TABLE certificate_status ADD COLUMN certificate {{blob}};
`})
}

type certStatuses struct{ s *Store }

// CertStatuses implements store.Store.
func (s *Store) CertStatuses() store.CertStatuses { return certStatuses{s} }

const certStatusColumns = `serial, subject, state, reason, since, changed_by, evidence`

func scanCertStatus(row interface{ Scan(...any) error }) (exchange.CertStatus, error) {
	var c exchange.CertStatus
	var state string
	var reason, since int64
	if err := row.Scan(&c.Serial, &c.Subject, &state, &reason, &since, &c.By, &c.Evidence); err != nil {
		return c, err
	}
	c.State, c.Reason, c.Since = exchange.CertState(state), exchange.RevocationReason(reason), time.UnixMicro(since).UTC()
	return c, nil
}

func (r certStatuses) Get(ctx context.Context, serial string) (exchange.CertStatus, error) {
	c, err := scanCertStatus(r.s.queryRow(ctx, `SELECT `+certStatusColumns+` FROM certificate_status WHERE serial = $1`, serial))
	if errors.Is(err, sql.ErrNoRows) {
		return exchange.CertStatus{Serial: serial, State: exchange.CertActive}, nil
	}
	if err != nil {
		return c, unavailable("read certificate status", err)
	}
	return c, nil
}

func (r certStatuses) Change(ctx context.Context, change exchange.CertChange, c exchange.CertStatus) error {
	c.State = change.Target()
	args := []any{c.Serial, c.Subject, string(c.State), int64(c.Reason), c.Since.UnixMicro(), c.By, c.Evidence}
	var q string
	// Each write is conditional on the state the rule allows to change from, so that two
	// coordinators acting at once cannot, say, resume a certificate the other just revoked.
	switch change {
	case exchange.ChangeRevoke:
		q = `INSERT INTO certificate_status (` + certStatusColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (serial) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since,
	changed_by = excluded.changed_by, evidence = excluded.evidence WHERE certificate_status.state <> 'revoked'`
	case exchange.ChangeSuspend:
		q = `INSERT INTO certificate_status (` + certStatusColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (serial) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since,
	changed_by = excluded.changed_by, evidence = excluded.evidence WHERE certificate_status.state = 'active'`
	case exchange.ChangeResume:
		q = `UPDATE certificate_status SET state = $3, reason = $4, since = $5, changed_by = $6, evidence = $7
WHERE serial = $1 AND subject = $2 AND state = 'suspended'`
	default:
		return exchange.Errorf(exchange.KindInvalid, "CERTIFICATE_CHANGE_INVALID", "unknown certificate change %q", change)
	}
	res, err := r.s.exec(ctx, q, args...)
	if err != nil {
		return unavailable("change certificate status", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("change certificate status", err)
	} else if n == 0 {
		cur, err := r.Get(ctx, c.Serial)
		if err != nil {
			return err
		}
		if err := change.Allowed(cur.State, c.Serial); err != nil {
			return err
		}
		return exchange.Errorf(exchange.KindUnavailable, "CERTIFICATE_STATUS_CONFLICT", "certificate %s changed at the same time: try again", c.Serial)
	}
	return nil
}

func (r certStatuses) Supersede(ctx context.Context, c exchange.CertStatus, cert []byte) error {
	c.State, c.Reason = exchange.CertRevoked, exchange.ReasonSuperseded
	// An earlier revocation (say, for key compromise) stays as it was.
	_, err := r.s.exec(ctx, `INSERT INTO certificate_status (`+certStatusColumns+`, certificate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (serial) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since,
	changed_by = excluded.changed_by, evidence = excluded.evidence, certificate = excluded.certificate WHERE certificate_status.state <> 'revoked'`,
		c.Serial, c.Subject, string(c.State), int64(c.Reason), c.Since.UnixMicro(), c.By, c.Evidence, cert)
	if err != nil {
		return unavailable("supersede certificate", err)
	}
	return nil
}

func (r certStatuses) Overlapping(ctx context.Context, subject string, now time.Time) ([][]byte, error) {
	rows, err := r.s.query(ctx, `SELECT certificate FROM certificate_status
WHERE subject = $1 AND state = 'revoked' AND reason = $2 AND since > $3 AND certificate IS NOT NULL ORDER BY since DESC`,
		subject, int64(exchange.ReasonSuperseded), now.UnixMicro())
	if err != nil {
		return nil, unavailable("read superseded certificates", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var der []byte
		if err := rows.Scan(&der); err != nil {
			return nil, unavailable("read superseded certificates", err)
		}
		out = append(out, der)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read superseded certificates", err)
	}
	return out, nil
}

func (r certStatuses) List(ctx context.Context) ([]exchange.CertStatus, error) {
	rows, err := r.s.query(ctx, `SELECT `+certStatusColumns+` FROM certificate_status WHERE state <> 'active' ORDER BY serial`)
	if err != nil {
		return nil, unavailable("list certificate status", err)
	}
	defer rows.Close()
	var out []exchange.CertStatus
	for rows.Next() {
		c, err := scanCertStatus(rows)
		if err != nil {
			return nil, unavailable("list certificate status", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list certificate status", err)
	}
	return out, nil
}
