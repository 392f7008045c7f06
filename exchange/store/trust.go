package store

import (
	"context"
	"time"
)

// TrustBundle is one version of the trust bundle a coordinator loaded: the PEM
// certificates of the national and provincial e-seal and e-licence CAs the hub trusts.
type TrustBundle struct {
	Version  int64
	PEM      string
	SM3      string // hex SM3 of PEM
	LoadedBy string // department code of the coordinator
	LoadedAt time.Time
	Note     string
}

// CRLSource is a place the hub fetches a CRL from, with the CRL in use and the last attempt.
type CRLSource struct {
	ID       int64
	Location string // http(s) URL or absolute file path on the hub
	Note     string
	AddedBy  string
	AddedAt  time.Time

	// The CRL in use (nil DER until one was fetched).
	DER        []byte
	Issuer     string
	ThisUpdate time.Time
	NextUpdate time.Time
	FetchedAt  time.Time
	Revoked    int

	LastAttemptAt time.Time
	LastError     string
}

// FetchedCRL is a CRL a source gave, already checked against the trust store.
type FetchedCRL struct {
	DER        []byte
	Issuer     string
	ThisUpdate time.Time
	NextUpdate time.Time
	Revoked    int
	FetchedAt  time.Time
}

// Trust is the hub's trust store: versioned trust bundles and CRL sources.
type Trust interface {
	// PutBundle stores b as the version after expected (b.Version is set). It MUST fail with
	// KindFailedPrecondition (TRUST_VERSION_CONFLICT) and write nothing when the current
	// version is not expected.
	PutBundle(ctx context.Context, b *TrustBundle, expected int64) error
	// CurrentBundle returns the newest version, or nil when none was loaded.
	CurrentBundle(ctx context.Context) (*TrustBundle, error)
	// ListBundles returns every version, newest first.
	ListBundles(ctx context.Context) ([]*TrustBundle, error)
	// AddCRLSource adds a source (s.ID is set); ErrAlreadyExists (CRL_SOURCE_EXISTS) when
	// the location is taken.
	AddCRLSource(ctx context.Context, s *CRLSource) error
	// RemoveCRLSource deletes a source and its CRL; ErrNotFound when absent.
	RemoveCRLSource(ctx context.Context, id int64) error
	// ListCRLSources returns every source with its CRL, by ID.
	ListCRLSources(ctx context.Context) ([]*CRLSource, error)
	// RecordCRL makes c the source's CRL unless the stored one is newer (a CRL never goes
	// back in time: a replayed older CRL could hide a revocation); it clears the last error.
	RecordCRL(ctx context.Context, id int64, c *FetchedCRL) error
	// RecordCRLError records a failed fetch attempt.
	RecordCRLError(ctx context.Context, id int64, at time.Time, msg string) error
}

// SealedDocument is a document a department sealed and registered with the hub.
type SealedDocument struct {
	SM3             string // hex SM3 of Content (the identifier)
	Name            string
	Department      string
	ESID            string // seal of the newest signature
	SignedAt        time.Time
	RegisteredAt    time.Time
	Signatures      int
	ECertIdentifier string
	Size            int64
	Content         []byte // nil in lists
}
