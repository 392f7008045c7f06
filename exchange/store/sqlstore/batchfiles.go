package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// Batch files are kept in the database, not under a hub's data directory: hubs sharing one
// database (replicas) serve any file made by any of them, a backup of the database holds
// them with the audit records that describe them, and the file commits in the same
// transaction as its audit intents (no file without its record, no record without its
// file). Ranges are read with substr, so a resumed download reads only what it asks for.
func init() {
	register(migration{142, "batch files made for consumers (provision method batch_file)", `
CREATE TABLE batch_files (
	id             TEXT PRIMARY KEY,
	department     TEXT NOT NULL,
	operator       TEXT NOT NULL,
	requirement_id TEXT NOT NULL,
	format         TEXT NOT NULL,
	manifest       {{blob}} NOT NULL,
	signature      {{blob}} NOT NULL,
	size           {{int64}} NOT NULL,
	sm3            {{blob}} NOT NULL,
	created_at     {{int64}} NOT NULL,
	content        {{blob}} NOT NULL
);
CREATE INDEX batch_files_department ON batch_files (department, created_at)
`})
}

// BatchFiles implements store.Store.
func (s *Store) BatchFiles() store.BatchFiles { return batchFiles{s} }

type batchFiles struct{ s *Store }

func (b batchFiles) Create(ctx context.Context, f *store.BatchFile) error {
	content := f.Content
	if content == nil {
		content = []byte{} // an empty file is a file, not NULL
	}
	_, err := b.s.conn(ctx).ExecContext(ctx, `INSERT INTO batch_files (id, department, operator, requirement_id, format, manifest, signature, size, sm3, created_at, content)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		f.ID, f.Department, f.Operator, f.RequirementID, f.Format, f.Manifest, f.Signature, int64(len(f.Content)), f.SM3, f.CreatedAt.UnixMicro(), content)
	if err != nil {
		if b.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "BATCH_EXISTS", "batch file %s exists", f.ID)
		}
		return unavailable("store batch file", err)
	}
	return nil
}

func (b batchFiles) Get(ctx context.Context, id string) (*store.BatchFile, error) {
	var (
		f  store.BatchFile
		at int64
	)
	err := b.s.queryRow(ctx, `SELECT id, department, operator, requirement_id, format, manifest, signature, size, sm3, created_at FROM batch_files WHERE id = $1`, id).
		Scan(&f.ID, &f.Department, &f.Operator, &f.RequirementID, &f.Format, &f.Manifest, &f.Signature, &f.Size, &f.SM3, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "BATCH_NOT_FOUND", "no batch file %s: create one first (PullService.CreateBatch, gxctl batch fetch)", id)
	}
	if err != nil {
		return nil, unavailable("read batch file", err)
	}
	f.CreatedAt = time.UnixMicro(at).UTC()
	return &f, nil
}

func (b batchFiles) ReadAt(ctx context.Context, id string, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("batch file: negative offset")
	}
	if len(p) == 0 {
		return 0, nil
	}
	var part []byte
	err := b.s.queryRow(ctx, `SELECT substr(content, CAST($2 AS INTEGER), CAST($3 AS INTEGER)) FROM batch_files WHERE id = $1`, id, off+1, int64(len(p))).Scan(&part)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, exchange.Errorf(exchange.KindNotFound, "BATCH_NOT_FOUND", "no batch file %s", id)
	}
	if err != nil {
		return 0, unavailable("read batch file", err)
	}
	n := copy(p, part)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
