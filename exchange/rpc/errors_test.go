package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// TestClientsGetThePublicMessageOnly tries to get a storage error's text to a client
// through the one error mapping, for every kind, over gRPC and over REST: the client gets
// the public message (or, for an internal error, the generic one), never the cause.
func TestClientsGetThePublicMessageOnly(t *testing.T) {
	const secret = `sqlite: database is locked (/var/lib/gxhub/hub.db)`
	cause := errors.New(secret)
	for k := exchange.KindInternal; k <= exchange.KindDataLoss; k++ {
		t.Run(fmt.Sprint(int(k)), func(t *testing.T) {
			err := fmt.Errorf("handler: %w", exchange.Wrap(k, "SOME_REASON", cause, "the public message"))
			st, ok := status.FromError(ToStatus(context.Background(), nil, err))
			require.True(t, ok, "not a status")
			require.True(t, !strings.Contains(st.Message(), "sqlite"), "gRPC message %q leaks the cause", st.Message())
			if k != exchange.KindInternal {
				require.True(t, st.Message() == "the public message", "gRPC message %q, want the public message", st.Message())
			}

			rec := httptest.NewRecorder()
			WriteHTTPError(rec, httptest.NewRequest("GET", "/v1/x", nil), nil, err)
			require.True(t, !strings.Contains(rec.Body.String(), "sqlite"), "REST body %s leaks the cause", rec.Body.String())
			var body HTTPError
			require.True(t, json.Unmarshal(rec.Body.Bytes(), &body) == nil, "REST body %s is not JSON", rec.Body.String())
		})
	}
	// A refused signature (reqsig's own error) keeps its reason and message, not its cause.
	_, perr := reqsig.Parse("GXHUB-SM2 not-a-jws")
	st, _ := status.FromError(ToStatus(context.Background(), nil, SignatureErr(perr)))
	require.True(t, Reason(st.Err()) == reqsig.ReasonMalformed, "reason %q, want %s", Reason(st.Err()), reqsig.ReasonMalformed)
	require.True(t, st.Message() == perr.Error(), "message %q, want %q", st.Message(), perr.Error())
}
