package store

import (
	"context"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/policy"
)

// Policies holds the pull policy's rules and their versioned history (D1, D3).
type Policies interface {
	// Version returns the current policy version (0 when no change was ever applied). It
	// MUST be cheap: deciders call it to notice changes made by other replicas.
	Version(ctx context.Context) (int64, error)
	// Rules returns every rule and the version they belong to, read consistently.
	Rules(ctx context.Context) ([]policy.Rule, int64, error)
	// Apply adds and removes c's rules as version expect+1, atomically, and records c in
	// the history. It MUST fail with ErrPolicyConflict, writing nothing, when the current
	// version is not expect (another change came first: re-read and retry), with
	// exchange.ErrInvalid (reason POLICY_RULE_ABSENT) when a removed rule does not exist,
	// and with reason POLICY_RULE_EXISTS when an added rule exists. It returns c with
	// Version set.
	Apply(ctx context.Context, c policy.Change, expect int64) (policy.Change, error)
	// History returns changes newest first, older than `before` (0 = from the newest), at
	// most limit (1..1000).
	History(ctx context.Context, before int64, limit int) ([]policy.Change, error)
}

// ErrPolicyConflict reports a concurrent policy change.
var ErrPolicyConflict = exchange.Errorf(exchange.KindFailedPrecondition, "POLICY_VERSION_CONFLICT",
	"the policy changed since you read it: read the current version and apply your change again")
