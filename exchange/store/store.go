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
	// Operators are departments' operators with their own certificates (D1, E6).
	Operators() Operators
	// Evidence keeps the signed requests behind audit records (E5, E6).
	Evidence() Evidence
	Nonces() Nonces
	// Records are published records, batches, liveness (A4, A5).
	Records() Records
	// Webhooks are consumers' push endpoints of subscriptions and their dead letters.
	Webhooks() Webhooks
	// BatchFiles are the batch files made for consumers (provision method batch_file).
	BatchFiles() BatchFiles
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
	// CertStatuses are revocations and suspensions of the certificates the hub issued (E5).
	CertStatuses() CertStatuses
	// Federation is the hub's side of its agreements with other hubs (docs/FEDERATION.md).
	Federation() Federation
	// Outbox keeps the audit intents of business writes, written in the same
	// transaction as the writes (see outbox.go).
	Outbox() Outbox
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

// CertStatuses is the lifecycle state of the certificates the hub's CA issued
// (exchange/certstatus.go).
type CertStatuses interface {
	// Get returns the certificate's status: State CertActive when nothing was recorded.
	Get(ctx context.Context, serial string) (exchange.CertStatus, error)
	// Change applies change with c's subject, reason, time, author and evidence. It MUST
	// apply exchange.CertChange.Allowed atomically with the write (a conditional write), and
	// return its error when the current state does not allow the change, writing nothing.
	Change(ctx context.Context, change exchange.CertChange, c exchange.CertStatus) error
	// List returns every revoked or suspended certificate, ordered by serial (revocations
	// taking effect later included).
	List(ctx context.Context) ([]exchange.CertStatus, error)
	// Supersede records the previous certificate of a re-keyed department as revoked
	// (superseded) from c.Since, keeping its DER for the overlap; a certificate already
	// revoked keeps its revocation.
	Supersede(ctx context.Context, c exchange.CertStatus, cert []byte) error
	// Overlapping returns the DER of the subject's superseded certificates whose revocation
	// takes effect after now (newest first).
	Overlapping(ctx context.Context, subject string, now time.Time) ([][]byte, error)
}

// Operators is the registry of operators' certificates.
type Operators interface {
	// Create adds o; exchange.ErrAlreadyExists (OPERATOR_EXISTS) when the serial is taken.
	Create(ctx context.Context, o *exchange.Operator) error
	// Get returns the operator with the certificate serial, or exchange.ErrNotFound.
	Get(ctx context.Context, serial string) (*exchange.Operator, error)
	// List returns a department's operators in serial order.
	List(ctx context.Context, department string) ([]*exchange.Operator, error)
	// SetStatus stores o's status, reason and time if its stored status is still from;
	// exchange.ErrFailedPrecondition (OPERATOR_CHANGED) if another change came first.
	SetStatus(ctx context.Context, o *exchange.Operator, from exchange.OperatorStatus) error
}

// Evidence keeps signed request envelopes, addressed by the SM3 digest an audit record's
// leaf commits to, with the certificate (DER) whose key signed them.
type Evidence interface {
	// Put stores the envelope under digest; storing the same digest again is a no-op.
	Put(ctx context.Context, digest []byte, envelope string, signerCert []byte) error
	// Get returns the envelope and signer certificate, or exchange.ErrNotFound.
	Get(ctx context.Context, digest []byte) (envelope string, signerCert []byte, err error)
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
