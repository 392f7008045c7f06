package verify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/verify"
)

func TestGate(t *testing.T) {
	g := verify.NewGate(2)
	g.MaxWait = 10 * time.Millisecond
	ctx := context.Background()
	a, err := g.Enter(ctx)
	require.NoError(t, err)
	b, err := g.Enter(ctx)
	require.NoError(t, err)
	_, err = g.Enter(ctx)
	require.True(t, errors.Is(err, verify.ErrBusy), "a third one waits, then is refused: %v", err)
	a()
	c, err := g.Enter(ctx)
	require.NoError(t, err, "a freed slot admits the next")
	b()
	c()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	g.MaxWait = time.Hour
	x, _ := g.Enter(ctx)
	y, _ := g.Enter(ctx)
	_, err = g.Enter(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	x()
	y()
	var nilGate *verify.Gate
	release, err := nilGate.Enter(ctx)
	require.NoError(t, err)
	release()
}
