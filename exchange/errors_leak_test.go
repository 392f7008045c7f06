package exchange_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

// TestErrorTextIsThePublicMessageOnly tries, for every kind, to get a storage error's text
// out through Error(): what a client may read is the public message alone; the cause stays
// reachable for the hub's logs (errors.Is, Unwrap).
func TestErrorTextIsThePublicMessageOnly(t *testing.T) {
	cause := errors.New(`pq: relation "records" violates constraint records_pkey on host db-7.internal`)
	for k := exchange.KindInternal; k <= exchange.KindDataLoss; k++ {
		t.Run(fmt.Sprint(int(k)), func(t *testing.T) {
			e := exchange.Wrap(k, "SOME_REASON", cause, "the public message")
			require.Equal(t, "the public message", e.Error())
			require.ErrorIs(t, e, cause)
			wrapped := fmt.Errorf("store: %w", e)
			var got *exchange.Error
			require.ErrorAs(t, wrapped, &got)
			require.Equal(t, "the public message", got.Error())
		})
	}
}
