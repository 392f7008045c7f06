package verify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBusy is returned by Gate.Enter when no verification slot freed up in time.
var ErrBusy = errors.New("too many verifications are running")

// Gate bounds how many verifications run at once (each may hold up to the OFD budget of
// memory, see ofd.Limits): Enter waits for a slot at most MaxWait.
type Gate struct {
	slots   chan struct{}
	MaxWait time.Duration
}

// NewGate admits n verifications at once (n ≥ 1) and lets others wait up to 10 s.
func NewGate(n int) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1)), MaxWait: 10 * time.Second}
}

// Enter takes a slot and returns the function that gives it back; it fails with an error
// wrapping ErrBusy after MaxWait, or with ctx's error.
func (g *Gate) Enter(ctx context.Context) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
	}
	t := time.NewTimer(g.MaxWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-t.C:
		return nil, fmt.Errorf("%w (%d at once): try again shortly", ErrBusy, cap(g.slots))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
