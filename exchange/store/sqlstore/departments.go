package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

type departments struct{ s *Store }

const deptColumns = `code, name, level, region, roles, certificate, cert_serial, registered_at`

func (r departments) Create(ctx context.Context, d *exchange.Department) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if len(d.Certificate) == 0 || d.CertSerial == "" {
		return exchange.Errorf(exchange.KindInvalid, "CERTIFICATE_MISSING", "department %s has no signing certificate", d.Code)
	}
	roles := make([]string, len(d.Roles))
	for i, ro := range d.Roles {
		roles[i] = string(ro)
	}
	_, err := r.s.exec(ctx, `INSERT INTO departments (`+deptColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		d.Code, d.Name, int64(d.Level), d.Region, strings.Join(roles, ","), d.Certificate, d.CertSerial, d.RegisteredAt.UnixMicro())
	if err != nil {
		if r.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "DEPARTMENT_EXISTS", "department %s is already registered", d.Code)
		}
		return unavailable("create department", err)
	}
	return nil
}

func scanDepartment(row interface{ Scan(...any) error }) (*exchange.Department, error) {
	var (
		d     exchange.Department
		level int64
		roles string
		at    int64
	)
	if err := row.Scan(&d.Code, &d.Name, &level, &d.Region, &roles, &d.Certificate, &d.CertSerial, &at); err != nil {
		return nil, err
	}
	d.Level = exchange.Level(level)
	for _, ro := range strings.Split(roles, ",") {
		if ro != "" {
			d.Roles = append(d.Roles, exchange.Role(ro))
		}
	}
	d.RegisteredAt = time.UnixMicro(at).UTC()
	return &d, nil
}

func (r departments) Get(ctx context.Context, code string) (*exchange.Department, error) {
	d, err := scanDepartment(r.s.queryRow(ctx, `SELECT `+deptColumns+` FROM departments WHERE code = $1`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "DEPARTMENT_NOT_FOUND", "no department with code %q is registered", code)
	}
	if err != nil {
		return nil, unavailable("get department", err)
	}
	return d, nil
}

func (r departments) List(ctx context.Context, f store.DepartmentFilter, after string, limit int) ([]*exchange.Department, error) {
	if limit < 1 || limit > 1000 {
		return nil, exchange.Errorf(exchange.KindInvalid, "PAGE_SIZE_INVALID", "page size must be between 1 and 1000, got %d", limit)
	}
	q := `SELECT ` + deptColumns + ` FROM departments WHERE code > $1`
	args := []any{after}
	if f.Region != "" {
		args = append(args, f.Region)
		q += ` AND region = $2`
	}
	if f.Level != exchange.LevelUnspecified {
		args = append(args, int64(f.Level))
		q += ` AND level = $` + strconv.Itoa(len(args))
	}
	args = append(args, limit)
	q += ` ORDER BY code LIMIT $` + strconv.Itoa(len(args))
	rows, err := r.s.queryRaw(ctx, q, args...) // built per call: not cached
	if err != nil {
		return nil, unavailable("list departments", err)
	}
	defer rows.Close()
	var out []*exchange.Department
	for rows.Next() {
		d, err := scanDepartment(rows)
		if err != nil {
			return nil, unavailable("list departments", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list departments", err)
	}
	return out, nil
}

func (r departments) UpdateCertificate(ctx context.Context, code string, certDER []byte, serial string) error {
	if len(certDER) == 0 || serial == "" {
		return exchange.Errorf(exchange.KindInvalid, "CERTIFICATE_MISSING", "a certificate and its serial are required")
	}
	res, err := r.s.exec(ctx, `UPDATE departments SET certificate = $1, cert_serial = $2 WHERE code = $3`, certDER, serial, code)
	if err != nil {
		return unavailable("update certificate", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("update certificate", err)
	} else if n == 0 {
		return exchange.Errorf(exchange.KindNotFound, "DEPARTMENT_NOT_FOUND", "no department with code %q is registered", code)
	}
	return nil
}

type nonces struct{ s *Store }

// Use records a nonce with one prepared upsert: a new pair is inserted; an expired pair
// (not yet purged) is renewed; a live pair affects no row, which is a replay. Concurrent
// uses of one pair are serialised by the primary key, so exactly one succeeds.
//
// The commit does not wait for a flush to stable storage (the store's relaxed pool:
// SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off): a nonce survives a crash
// of the hub process, and a machine crash can lose only the last moments of nonces, which
// the authenticator covers by refusing requests signed before the hub process started.
func (n nonces) Use(ctx context.Context, department, nonce string, expires time.Time) error {
	res, err := n.s.execOn(ctx, n.s.relaxedPool(), `INSERT INTO request_nonces (department, nonce, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (department, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE request_nonces.expires_at < $4`,
		department, nonce, expires.UnixMicro(), time.Now().UnixMicro())
	if err != nil {
		return unavailable("use nonce", err)
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return unavailable("use nonce", err)
	}
	if affected == 0 {
		return store.ErrReplay
	}
	return nil
}

func (n nonces) Purge(ctx context.Context, now time.Time) (int64, error) {
	res, err := n.s.exec(ctx, `DELETE FROM request_nonces WHERE expires_at < $1`, now.UnixMicro())
	if err != nil {
		return 0, unavailable("purge nonces", err)
	}
	return res.RowsAffected()
}
