package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestRetryAcrossHubRestart stops the real hub and starts it again while a client calls:
// an idempotent call rides out the restart on retries, a write fails at once with
// Unavailable. (That each attempt is signed afresh is TestRetryResignsIdempotentCallsOnly.)
func TestRetryAcrossHubRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := identity.Load(identityDir(yubei), nil)
	require.NoError(t, err)
	c, err := sdk.Dial(ctx, id, sdk.WithRetry(sdk.RetryPolicy{Attempts: 200, Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, err)

	hub.stop()
	restarted := make(chan error, 1)
	t.Cleanup(func() {
		if hub.cmd == nil { // the restart failed: bring the hub back for the examples
			require.NoError(t, hub.start())
		}
	})

	// While the hub is down: a write is not retried.
	_, err = c.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-SCJG-0001", Items: []string{"name"},
		MatterCodes: []string{"500112-YB-0001"}, LegalDuty: "《优化营商环境条例》"})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	go func() {
		time.Sleep(300 * time.Millisecond)
		restarted <- hub.start()
	}()
	start := time.Now()
	me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	require.NoError(t, <-restarted)
	require.NoError(t, err, "WhoAmI is retried until the hub is back")
	require.Equal(t, yubei, me.GetDepartment().GetCode())
	require.Greater(t, time.Since(start), 300*time.Millisecond, "the call waited for the restart")
}
