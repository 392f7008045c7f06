// Package store declares the one contract for everything the hub persists. Implementations
// live in subpackages (sqlite, postgres over the shared sqlstore); every implementation must
// pass the conformance suite in storetest.
//
// Durability: a method that returns nil has made its write durable; a crash after that
// loses nothing. A method that returns an error has written nothing.
package store

import (
	"context"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
)

// Store is the hub's persistent state.
type Store interface {
	Departments() Departments
	Nonces() Nonces
	// Records are published records, batches, liveness (A4, A5).
	Records() Records
	// Webhooks are consumers' push endpoints of subscriptions and their dead letters.
	Webhooks() Webhooks
	// Objections are consumers' objections to records (A4).
	Objections() Objections
	// Policies are the pull policy's rules and versions (D1–D3).
	Policies() Policies
	// Catalog is the resource catalogue (A1).
	Catalog() Catalog
	// Requirements are filed requirements and their decisions (A2).
	Requirements() Requirements
	// Matters is the matter registry (A7, A8).
	Matters() Matters
	// Cases are the cases consuming departments open (A8, 一企一事一码).
	Cases() Cases
	// Proposals are providers' proposals to narrow resources, decided by the coordinator
	// (A10).
	Proposals() Proposals
	// Certs is the e-certificate registry and the hub-made seals (B2, B3).
	Certs() Certs
	// Trust is the verifier's trust store: trust bundles and CRL sources (B4).
	Trust() Trust
	// CalendarYears are the working-day calendar years the coordinator published (F5).
	CalendarYears() CalendarYears
	// LedgerStorage is the storage of the audit log named logID (see package ledger).
	LedgerStorage(logID string) ledger.Storage
	// Ping checks the store can serve requests (used by /readyz).
	Ping(ctx context.Context) error
	// SchemaVersion returns the highest applied migration.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Departments is the department registry.
type Departments interface {
	// Create adds d. It MUST fail with exchange.ErrAlreadyExists (reason
	// DEPARTMENT_EXISTS) when the code is taken, writing nothing.
	Create(ctx context.Context, d *exchange.Department) error
	// Get returns the department with the code, or exchange.ErrNotFound.
	Get(ctx context.Context, code string) (*exchange.Department, error)
	// List returns departments ordered by code, starting after `after` (exclusive, "" for
	// the first page), at most limit (1..1000). Filters are ignored when zero.
	List(ctx context.Context, f DepartmentFilter, after string, limit int) ([]*exchange.Department, error)
	// UpdateCertificate replaces the department's signing certificate; ErrNotFound if absent.
	UpdateCertificate(ctx context.Context, code string, certDER []byte, serial string) error
}

// DepartmentFilter narrows List.
type DepartmentFilter struct {
	Region string
	Level  exchange.Level
}

// Nonces remembers request nonces to refuse replays across every hub replica sharing the store.
type Nonces interface {
	// Use records (department, nonce) until expires. It MUST return an error matching
	// ErrReplay when the pair was already recorded and has not expired, and MUST be atomic
	// across concurrent callers: of two concurrent Use calls with the same pair, exactly one
	// succeeds.
	Use(ctx context.Context, department, nonce string, expires time.Time) error
	// Purge deletes records that expired before now and returns how many.
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// ErrReplay reports a nonce that was already used.
var ErrReplay = exchange.Errorf(exchange.KindUnauthenticated, "REQUEST_REPLAYED",
	"this request's nonce was already used: a signed request may be sent only once; sign a new request with a fresh nonce")
