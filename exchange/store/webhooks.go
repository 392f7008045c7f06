package store

import (
	"context"

	"github.com/gxhub/gxhub/exchange"
)

// Webhooks holds consumers' webhook registrations, where each delivery stands, and the
// dead letters.
type Webhooks interface {
	// Create stores a new webhook (ID set by the caller, unique).
	Create(ctx context.Context, w *exchange.Webhook) error
	// List returns a department's webhooks (all departments when department is ""), oldest first.
	List(ctx context.Context, department string) ([]*exchange.Webhook, error)
	// Acknowledge moves a webhook's cursor to cursor (only forward) and counts a delivery;
	// with dead set, it stores the dead letter in the same transaction and counts it instead.
	Acknowledge(ctx context.Context, id string, cursor int64, dead *exchange.DeadLetter) error
	// Fail records the last failed attempt's error.
	Fail(ctx context.Context, id, lastError string) error
	// Stop marks a webhook stopped with the reason.
	Stop(ctx context.Context, id, reason string) error
	// DeadLetters returns a department's dead letters, oldest first, at most limit.
	DeadLetters(ctx context.Context, department string, limit int) ([]*exchange.DeadLetter, error)
}
