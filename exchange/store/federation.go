package store

import (
	"context"

	"github.com/gxhub/gxhub/exchange/federation"
)

// Federation keeps the hub's side of its federation with other hubs: agreements (every
// version kept), the consumer side's copies of remote requirements, and the remote
// resources peers offer.
type Federation interface {
	// PutAgreement stores a new version of an agreement: version 1 creates it (an existing
	// id is KindAlreadyExists), any later version replaces version a.Version-1 only
	// (compare-and-set: KindFailedPrecondition when another change came first). Every
	// version is kept (AgreementVersions).
	PutAgreement(ctx context.Context, a *federation.Agreement) error
	// GetAgreement returns the current version (KindNotFound when none).
	GetAgreement(ctx context.Context, id string) (*federation.Agreement, error)
	// ListAgreements returns every agreement, current versions, by id.
	ListAgreements(ctx context.Context) ([]*federation.Agreement, error)
	// AgreementVersions returns every stored version of an agreement, oldest first.
	AgreementVersions(ctx context.Context, id string) ([]*federation.Agreement, error)

	// PutRemoteRequirement stores a remote requirement: Version 1 creates, a later version
	// replaces Version-1 only (compare-and-set).
	PutRemoteRequirement(ctx context.Context, r *federation.RemoteRequirement) error
	GetRemoteRequirement(ctx context.Context, id string) (*federation.RemoteRequirement, error)
	// ListRemoteRequirements returns a consumer's remote requirements ("" = all).
	ListRemoteRequirements(ctx context.Context, consumer string) ([]*federation.RemoteRequirement, error)

	// PutRemoteResources replaces the offered resources of one home hub under one
	// agreement: changed are upserted, and entries whose code is not in offered are removed.
	PutRemoteResources(ctx context.Context, hub string, changed []*federation.RemoteResource, offered []string) error
	// ListRemoteResources returns the remote resources of hub ("" = every hub).
	ListRemoteResources(ctx context.Context, hub string) ([]*federation.RemoteResource, error)
}
