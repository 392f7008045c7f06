package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{21, "catalogue change proposals decided by the coordinator", `
CREATE TABLE catalog_proposals (
	id         TEXT PRIMARY KEY,
	resource   TEXT NOT NULL,
	provider   TEXT NOT NULL,
	state      TEXT NOT NULL,
	decisions  INTEGER NOT NULL,
	deadline   {{int64}} NOT NULL,
	created_at {{int64}} NOT NULL,
	updated_at {{int64}} NOT NULL,
	body       TEXT NOT NULL
);
CREATE UNIQUE INDEX catalog_proposals_pending ON catalog_proposals (resource) WHERE state = 'pending';
CREATE INDEX catalog_proposals_state ON catalog_proposals (state, created_at);
CREATE INDEX catalog_proposals_provider ON catalog_proposals (provider, created_at);
CREATE TABLE catalog_proposal_decisions (
	proposal    TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	action      TEXT NOT NULL,
	by_dept     TEXT NOT NULL,
	comment     TEXT NOT NULL,
	at          {{int64}} NOT NULL,
	evidence    TEXT NOT NULL,
	body_digest TEXT NOT NULL,
	PRIMARY KEY (proposal, seq)
);
`})
}

type proposals struct{ s *Store }

// Proposals implements store.Store.
func (s *Store) Proposals() store.Proposals { return proposals{s} }

// proposalBody is the stored form of what a proposal's columns do not hold.
type proposalBody struct {
	DeadlineProvisional bool `json:",omitempty"`
	BaseVersion         int
	Proposed            *exchange.Resource
	Narrowing           []string
	Affected            []string
	AppliedVersion      int
}

const proposalColumns = `id, resource, provider, state, decisions, deadline, created_at, updated_at, body`

func proposalNotFound(id string) error {
	return exchange.Errorf(exchange.KindNotFound, "PROPOSAL_NOT_FOUND", "no catalogue change proposal %q", id)
}

func insertProposalDecision(ctx context.Context, tx *txn, id string, d exchange.ProposalDecision) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO catalog_proposal_decisions (proposal, seq, action, by_dept, comment, at, evidence, body_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, d.Seq, string(d.Action), d.By, d.Comment, micro(d.At), d.Evidence, d.BodyDigest)
	return err
}

func encodeProposal(p *exchange.CatalogProposal) (string, error) {
	b, err := json.Marshal(proposalBody{DeadlineProvisional: p.DeadlineProvisional, BaseVersion: p.BaseVersion, Proposed: p.Proposed, Narrowing: p.Narrowing, Affected: p.Affected, AppliedVersion: p.AppliedVersion})
	return string(b), err
}

func (q proposals) Create(ctx context.Context, p *exchange.CatalogProposal, notice string) error {
	body, err := encodeProposal(p)
	if err != nil {
		return err
	}
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("create proposal", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_proposals (`+proposalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.Resource, p.Provider, string(p.State), len(p.Decisions), micro(p.Deadline), micro(p.CreatedAt), micro(p.UpdatedAt), body); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return q.conflict(ctx, p)
		}
		return unavailable("create proposal", err)
	}
	for _, d := range p.Decisions {
		if err := insertProposalDecision(ctx, tx, p.ID, d); err != nil {
			return unavailable("create proposal", err)
		}
	}
	for _, id := range p.Affected {
		if err := appendNotice(ctx, tx, id, notice, p.CreatedAt); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return q.conflict(ctx, p)
		}
		return unavailable("create proposal", err)
	}
	return nil
}

// conflict says which uniqueness a new proposal broke.
func (q proposals) conflict(ctx context.Context, p *exchange.CatalogProposal) error {
	if cur, err := q.Pending(ctx, p.Resource); err == nil {
		return exchange.Errorf(exchange.KindFailedPrecondition, "RESOURCE_CHANGE_PENDING",
			"proposal %s to change resource %s already awaits the coordinator: wait for the decision or withdraw it first", cur.ID, p.Resource)
	}
	return exchange.Errorf(exchange.KindAlreadyExists, "PROPOSAL_EXISTS", "proposal %s exists already", p.ID)
}

func scanProposal(row interface{ Scan(...any) error }) (*exchange.CatalogProposal, int, error) {
	var (
		p                          exchange.CatalogProposal
		state, body                string
		n                          int
		deadline, created, updated int64
		b                          proposalBody
	)
	if err := row.Scan(&p.ID, &p.Resource, &p.Provider, &state, &n, &deadline, &created, &updated, &body); err != nil {
		return nil, 0, err
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return nil, 0, fmt.Errorf("decode proposal %s: %w", p.ID, err)
	}
	p.State = exchange.ProposalState(state)
	p.Deadline, p.CreatedAt, p.UpdatedAt = fromMicro(deadline), fromMicro(created), fromMicro(updated)
	p.BaseVersion, p.Proposed, p.Narrowing, p.Affected, p.AppliedVersion = b.BaseVersion, b.Proposed, b.Narrowing, b.Affected, b.AppliedVersion
	p.DeadlineProvisional = b.DeadlineProvisional
	return &p, n, nil
}

func (q proposals) Get(ctx context.Context, id string) (*exchange.CatalogProposal, error) {
	p, _, err := scanProposal(q.s.queryRow(ctx, `SELECT `+proposalColumns+` FROM catalog_proposals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, proposalNotFound(id)
	}
	if err != nil {
		return nil, unavailable("read proposal", err)
	}
	rows, err := q.s.query(ctx, `SELECT seq, action, by_dept, comment, at, evidence, body_digest FROM catalog_proposal_decisions WHERE proposal = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, unavailable("read proposal decisions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d      exchange.ProposalDecision
			action string
			at     int64
		)
		if err := rows.Scan(&d.Seq, &action, &d.By, &d.Comment, &at, &d.Evidence, &d.BodyDigest); err != nil {
			return nil, unavailable("read proposal decisions", err)
		}
		d.Action, d.At = exchange.ProposalAction(action), fromMicro(at)
		p.Decisions = append(p.Decisions, d)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read proposal decisions", err)
	}
	return p, nil
}

func (q proposals) Pending(ctx context.Context, resource string) (*exchange.CatalogProposal, error) {
	var id string
	err := q.s.queryRow(ctx, `SELECT id FROM catalog_proposals WHERE resource = $1 AND state = $2`, resource, string(exchange.ProposalPending)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "PROPOSAL_NOT_FOUND", "no proposal to change resource %s is pending", resource)
	}
	if err != nil {
		return nil, unavailable("read pending proposal", err)
	}
	return q.Get(ctx, id)
}

func (q proposals) Decide(ctx context.Context, p *exchange.CatalogProposal, from exchange.ProposalState, d exchange.ProposalDecision, apply *exchange.Resource, notice string) error {
	changed := func() error {
		return exchange.Errorf(exchange.KindFailedPrecondition, "PROPOSAL_CHANGED", "proposal %s changed since it was read (another decision came first): read it again", p.ID)
	}
	body, err := encodeProposal(p)
	if err != nil {
		return err
	}
	tx, err := q.s.begin(ctx, nil)
	if err != nil {
		return unavailable("decide proposal", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE catalog_proposals SET state = $1, decisions = $2, updated_at = $3, body = $4 WHERE id = $5 AND state = $6 AND decisions = $7`,
		string(p.State), d.Seq, micro(p.UpdatedAt), body, p.ID, string(from), d.Seq-1)
	if err != nil {
		return unavailable("decide proposal", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("decide proposal", err)
	} else if n == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM catalog_proposals WHERE id = $1`, p.ID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return proposalNotFound(p.ID)
		} else if err != nil {
			return unavailable("decide proposal", err)
		}
		return changed()
	}
	if err := insertProposalDecision(ctx, tx, p.ID, d); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return changed()
		}
		return unavailable("decide proposal", err)
	}
	if apply != nil {
		if err := q.s.updateResource(ctx, tx, apply); err != nil {
			return err
		}
	}
	for _, id := range p.Affected {
		if err := appendNotice(ctx, tx, id, notice, d.At); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		if q.s.d.IsUniqueViolation(err) {
			return changed()
		}
		return unavailable("decide proposal", err)
	}
	return nil
}

func (q proposals) List(ctx context.Context, f store.ProposalFilter, limit int) ([]*exchange.CatalogProposal, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	query := `SELECT ` + proposalColumns + ` FROM catalog_proposals WHERE 1 = 1`
	var args []any
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			query += fmt.Sprintf(` AND %s = $%d`, col, len(args))
		}
	}
	add("resource", f.Resource)
	add("provider", f.Provider)
	add("state", string(f.State))
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY created_at DESC, id LIMIT $%d`, len(args))
	rows, err := q.s.queryRaw(ctx, query, args...) // built per call: not cached
	if err != nil {
		return nil, unavailable("list proposals", err)
	}
	defer rows.Close()
	var out []*exchange.CatalogProposal
	for rows.Next() {
		p, _, err := scanProposal(rows)
		if err != nil {
			return nil, unavailable("list proposals", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
