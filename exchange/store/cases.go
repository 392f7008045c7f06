package store

import (
	"context"
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// Cases holds cases (办件, REQUIREMENTS A8): one number hub-wide, its matter, applicant and
// parties, its status history and the materials obtained for it.
type Cases interface {
	// Create stores a newly opened case with its history. It MUST fail with
	// exchange.ErrAlreadyExists (reason CASE_EXISTS) when the number is taken, hub-wide,
	// writing nothing.
	Create(ctx context.Context, c *exchange.Case) error
	// Get returns the case with its parties, history and materials, or ErrNotFound
	// (CASE_NOT_FOUND).
	Get(ctx context.Context, number string) (*exchange.Case, error)
	// Brief returns the case with its parties but without history and materials (what a
	// pull checks, in one read), or ErrNotFound (CASE_NOT_FOUND).
	Brief(ctx context.Context, number string) (*exchange.Case, error)
	// End appends e to the case's history and sets its state to e.State, if and only if
	// the stored case is in state from with e.Seq-1 history entries (compare-and-set).
	// Otherwise it writes nothing and fails with ErrFailedPrecondition (CASE_CHANGED).
	End(ctx context.Context, number string, from exchange.CaseState, e exchange.CaseEvent) error
	// AddMaterials records materials obtained for the case (appended; a material may be
	// obtained again later, each time is kept). ErrNotFound when the case is unknown.
	AddMaterials(ctx context.Context, number string, ms []exchange.CaseMaterial) error
	// List returns cases matching f ordered by number, after `after` (exclusive), at most
	// limit (1..1000), without history and materials.
	List(ctx context.Context, f CaseFilter, after string, limit int) ([]*exchange.Case, error)
}

// CaseFilter narrows Cases.List; zero fields are ignored.
type CaseFilter struct {
	Department string
	Matter     string
	State      exchange.CaseState
	// OpenedBefore selects cases opened before the time.
	OpenedBefore time.Time
}

// Proposals holds providers' proposals to narrow catalogued resources (REQUIREMENTS A10).
// At most one proposal per resource is pending.
type Proposals interface {
	// Create stores a pending proposal and, in the same transaction, appends a system
	// notice (exchange.ActCatalogNotice, with comment notice) to the history of every
	// requirement in p.Affected, leaving their states as they are. It MUST fail with
	// ErrFailedPrecondition (RESOURCE_CHANGE_PENDING) when a proposal on the resource is
	// pending, and ErrAlreadyExists (PROPOSAL_EXISTS) when the id is taken, writing nothing.
	Create(ctx context.Context, p *exchange.CatalogProposal, notice string) error
	// Get returns a proposal with its decisions, or ErrNotFound (PROPOSAL_NOT_FOUND).
	Get(ctx context.Context, id string) (*exchange.CatalogProposal, error)
	// Pending returns the pending proposal on a resource, or ErrNotFound.
	Pending(ctx context.Context, resource string) (*exchange.CatalogProposal, error)
	// Decide appends d and moves the proposal to p.State, if and only if it is in state
	// from with d.Seq-1 decisions (else ErrFailedPrecondition PROPOSAL_CHANGED), and in
	// the same transaction: stores apply as the resource's next version when it is not nil
	// (compare-and-set like Catalog.Update), and appends notice to the history of every
	// affected requirement. Nothing is written when any step fails.
	Decide(ctx context.Context, p *exchange.CatalogProposal, from exchange.ProposalState, d exchange.ProposalDecision, apply *exchange.Resource, notice string) error
	// List returns proposals matching f, newest first, at most limit (1..1000), without
	// their decisions.
	List(ctx context.Context, f ProposalFilter, limit int) ([]*exchange.CatalogProposal, error)
}

// ProposalFilter narrows Proposals.List; zero fields are ignored.
type ProposalFilter struct {
	Resource string
	Provider string
	State    exchange.ProposalState
}
