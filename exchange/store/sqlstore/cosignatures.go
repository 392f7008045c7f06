package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/witness"
)

func init() {
	register(migration{180, "audit ledger: witness cosignatures of the log's checkpoints", `
CREATE TABLE ledger_cosignatures (
	log_id      TEXT NOT NULL,
	size        {{int64}} NOT NULL,
	witness     TEXT NOT NULL,
	root        {{blob}} NOT NULL,
	cosignature TEXT NOT NULL,
	received_at TEXT NOT NULL,
	PRIMARY KEY (log_id, size, witness)
);
`})
}

// WitnessCosignatures returns the cosignatures the hub collected for the log logID
// (witness.Store).
func (s *Store) WitnessCosignatures(logID string) witness.Store {
	return &cosignatures{s: s, log: logID}
}

type cosignatures struct {
	s   *Store
	log string
}

func (c *cosignatures) PutCosignature(ctx context.Context, cp witness.Checkpoint, sig witness.Signature) error {
	if cp.Origin != c.log {
		return fmt.Errorf("%w: cosignature of log %q kept for %q", ledger.ErrInvalid, cp.Origin, c.log)
	}
	_, err := c.s.exec(ctx, `INSERT INTO ledger_cosignatures (log_id, size, witness, root, cosignature, received_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (log_id, size, witness) DO UPDATE SET cosignature = excluded.cosignature, received_at = excluded.received_at`,
		c.log, int64(cp.Size), sig.Name, cp.Root, sig.Line(), time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return ledgerErr("keep cosignature", err)
	}
	return nil
}

func (c *cosignatures) WitnessSize(ctx context.Context, w string) (uint64, error) {
	var n sql.NullInt64
	if err := c.s.queryRow(ctx, `SELECT MAX(size) FROM ledger_cosignatures WHERE log_id = $1 AND witness = $2`, c.log, w).Scan(&n); err != nil {
		return 0, ledgerErr("witness size", err)
	}
	return uint64(n.Int64), nil
}

func (c *cosignatures) Latest(ctx context.Context) (witness.Checkpoint, []witness.Signature, error) {
	var size int64
	err := c.s.queryRow(ctx, `SELECT size FROM ledger_cosignatures WHERE log_id = $1 ORDER BY size DESC LIMIT 1`, c.log).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return witness.Checkpoint{}, nil, fmt.Errorf("%w: no cosigned checkpoint of %s", ledger.ErrNotFound, c.log)
	}
	if err != nil {
		return witness.Checkpoint{}, nil, ledgerErr("latest cosigned checkpoint", err)
	}
	rows, err := c.s.query(ctx, `SELECT root, cosignature FROM ledger_cosignatures WHERE log_id = $1 AND size = $2`, c.log, size)
	if err != nil {
		return witness.Checkpoint{}, nil, ledgerErr("latest cosigned checkpoint", err)
	}
	defer rows.Close()
	cp := witness.Checkpoint{Origin: c.log, Size: uint64(size)}
	var sigs []witness.Signature
	for rows.Next() {
		var root []byte
		var line string
		if err := rows.Scan(&root, &line); err != nil {
			return witness.Checkpoint{}, nil, ledgerErr("latest cosigned checkpoint", err)
		}
		if cp.Root == nil {
			cp.Root = root
		} else if string(cp.Root) != string(root) {
			return witness.Checkpoint{}, nil, fmt.Errorf("%w: cosignatures of two roots for size %d of %s", ledger.ErrInconsistent, size, c.log)
		}
		s, err := witness.ParseSignatureLine(line[:len(line)-1])
		if err != nil {
			return witness.Checkpoint{}, nil, fmt.Errorf("stored cosignature: %w", err)
		}
		sigs = append(sigs, s)
	}
	if err := rows.Err(); err != nil {
		return witness.Checkpoint{}, nil, ledgerErr("latest cosigned checkpoint", err)
	}
	sort.Slice(sigs, func(i, j int) bool { return sigs[i].Name < sigs[j].Name })
	return cp, sigs, nil
}
