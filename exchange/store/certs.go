package store

import (
	"context"
	"time"
)

// ECertStatus is the registry status of an e-certificate (电子证照) version.
type ECertStatus string

// Registry statuses. Revoked, annulled and superseded are final.
const (
	ECertActive     ECertStatus = "active"
	ECertSuspended  ECertStatus = "suspended"
	ECertRevoked    ECertStatus = "revoked"
	ECertAnnulled   ECertStatus = "annulled"
	ECertSuperseded ECertStatus = "superseded"
)

// Final reports whether no further status change is allowed.
func (s ECertStatus) Final() bool {
	return s == ECertRevoked || s == ECertAnnulled || s == ECertSuperseded
}

// CertType is a registered licence type: Body is the ecert.CertType JSON.
type CertType struct {
	Code         string
	Definer      string // USCC of the defining department
	Body         string
	RegisteredAt time.Time
}

// ECert is one registered e-certificate version and its current status.
type ECert struct {
	Identifier   string // GB/T 36904, with version and check character
	TypeCode     string
	IssuerCode   string
	HolderCode   string
	HolderName   string
	Name         string
	Version      int
	Sealed       string // compact JWS sealed by the issuer
	SealedSM3    string // hex SM3 of Sealed
	Metadata     string // GB/T 36903 metadata JSON
	IssuedAt     time.Time
	RegisteredAt time.Time
	// Status, StatusReason and StatusSince are the current status (set by the store).
	Status       ECertStatus
	StatusReason string
	StatusSince  time.Time
}

// ECertEvent is one status change of an e-certificate version.
type ECertEvent struct {
	Status ECertStatus
	At     time.Time
	Reason string
	By     string // department code that made the change
}

// Seal is an electronic seal the hub made for a department.
type Seal struct {
	ESID         string
	Department   string
	Name         string
	DER          []byte
	MadeAt       time.Time
	ValidTo      time.Time
	RevokedAt    time.Time // zero while active
	RevokeReason string
}

// Certs is the e-certificate registry (B3) and the seals the hub made (B2).
type Certs interface {
	// PutType registers a licence type; exchange.ErrAlreadyExists (ECERT_TYPE_EXISTS) if the
	// code is taken.
	PutType(ctx context.Context, t *CertType) error
	// ListTypes returns the registered types ordered by code.
	ListTypes(ctx context.Context) ([]*CertType, error)
	// Issue registers e with status active since e.IssuedAt. When supersedes is not empty,
	// that version is atomically marked superseded at e.RegisteredAt; it MUST fail with
	// KindFailedPrecondition (ECERT_STATUS_CONFLICT) and write nothing when that version's
	// status is final, and with ErrNotFound when it is absent. A taken identifier is
	// ErrAlreadyExists (ECERT_EXISTS).
	Issue(ctx context.Context, e *ECert, supersedes, by string) error
	// Get returns a version with its current status, or ErrNotFound.
	Get(ctx context.Context, identifier string) (*ECert, error)
	// ListByHolder returns a holder's versions, newest registration first.
	ListByHolder(ctx context.Context, holder string) ([]*ECert, error)
	// ChangeStatus moves a version from `from` to `to` (compare-and-set): KindFailedPrecondition
	// (ECERT_STATUS_CONFLICT) when the current status is not `from`, ErrNotFound when absent.
	ChangeStatus(ctx context.Context, identifier string, from, to ECertStatus, ev ECertEvent) error
	// StatusAt returns the status event in effect at t; ErrNotFound when the version is
	// unknown or was not registered yet at t.
	StatusAt(ctx context.Context, identifier string, t time.Time) (*ECertEvent, error)
	// History returns every status event in order.
	History(ctx context.Context, identifier string) ([]*ECertEvent, error)

	// PutSeal records a seal; ErrAlreadyExists (SEAL_EXISTS) if the esID is taken.
	PutSeal(ctx context.Context, s *Seal) error
	// GetSeal returns a seal, or ErrNotFound.
	GetSeal(ctx context.Context, esid string) (*Seal, error)
	// ListSeals returns a department's seals, newest first.
	ListSeals(ctx context.Context, department string) ([]*Seal, error)
	// RevokeSeal marks a seal revoked at `at`; KindFailedPrecondition (SEAL_REVOKED) if it
	// already is, ErrNotFound if absent.
	RevokeSeal(ctx context.Context, esid string, at time.Time, reason string) error

	// PutSealedDocument keeps a sealed document; ErrAlreadyExists (SEALED_DOCUMENT_EXISTS)
	// when a document with the same SM3 is registered.
	PutSealedDocument(ctx context.Context, d *SealedDocument) error
	// GetSealedDocument returns a document with its content, or ErrNotFound.
	GetSealedDocument(ctx context.Context, sm3 string) (*SealedDocument, error)
	// ListSealedDocuments returns a department's documents without content, newest first.
	ListSealedDocuments(ctx context.Context, department string) ([]*SealedDocument, error)
}
