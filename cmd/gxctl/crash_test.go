package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestCrashLosesNothingAcknowledged runs concurrent registrations (each a department row
// plus an audit record, acknowledged only when both are durable) against a real gxhub
// process, kills it with SIGKILL at a random moment, restarts it on the same data
// directory, and checks that every acknowledged registration and its audit record are
// there, and that the last signed head seen before the crash is consistent with the log
// after it. GXHUB_CRASH_RUNS sets the number of kills (default 3; `make crash` runs 20).
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	runs := 3
	if v := os.Getenv("GXHUB_CRASH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		runs = n
	}
	gxhubBin, _ := buildBinaries(t)
	data := t.TempDir()
	addr := freePort(t)
	var acked []string // department codes whose registration was acknowledged
	var lastHead *auditv1.SignedTreeHead
	for run := range runs {
		hub := startGxhub(t, gxhubBin, data, addr)
		coordinator, err := identity.Load(hub.identities()[0], nil)
		require.NoError(t, err)
		ctx := context.Background()
		c, err := sdk.Dial(ctx, coordinator)
		require.NoError(t, err)
		checkDurable(t, c, acked, lastHead)

		// Load: 4 writers until the kill.
		var mu sync.Mutex
		var stop atomic.Bool
		var wg sync.WaitGroup
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
		require.NoError(t, err)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					code := validCodeOrg(t, fmt.Sprintf("%02d%02d%04d", run%100, w, i%10000))
					cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := c.Admin.RegisterDepartment(cctx, &adminv1.RegisterDepartmentRequest{
						Department:   &adminv1.Department{Code: code, Name: "崩溃测试局", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
						PublicKeyPem: string(pub),
					})
					cancel()
					if err == nil {
						mu.Lock()
						acked = append(acked, code)
						mu.Unlock()
					}
				}
			}()
		}
		// Remember a signed head while the load runs, then kill at a random moment.
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if h, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{}); err == nil {
			lastHead = h
		}
		time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
		require.NoError(t, hub.cmd.Process.Kill())
		<-hub.done
		stop.Store(true)
		wg.Wait()
		c.Close()
		t.Logf("run %d: killed with %d acknowledged registrations so far", run, len(acked))
	}
	hub := startGxhub(t, gxhubBin, data, addr)
	coordinator, err := identity.Load(hub.identities()[0], nil)
	require.NoError(t, err)
	c, err := sdk.Dial(context.Background(), coordinator)
	require.NoError(t, err)
	defer c.Close()
	checkDurable(t, c, acked, lastHead)
	require.Positive(t, len(acked), "the load made progress")
}

// checkDurable asserts every acknowledged code is registered and audited, and the log
// extends the head seen before the crash.
func checkDurable(t *testing.T, c *sdk.Client, acked []string, before *auditv1.SignedTreeHead) {
	t.Helper()
	ctx := context.Background()
	for _, code := range acked {
		_, err := c.Admin.GetDepartment(ctx, &adminv1.GetDepartmentRequest{Code: code})
		require.NoError(t, err, "acknowledged registration %s lost", code)
	}
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	require.NoError(t, err)
	audited := map[string]bool{}
	for i := range info.GetSize() {
		r, err := c.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: i})
		require.NoError(t, err)
		if r.GetKind() == string(server.KindDepartmentRegister) {
			audited[r.GetResource()] = true
		}
	}
	for _, code := range acked {
		require.True(t, audited[code], "acknowledged registration %s has no audit record", code)
	}
	if before == nil {
		return
	}
	pub, err := sm.ParsePublicKeyPEM([]byte(info.GetPublicKeyPem()))
	require.NoError(t, err)
	v, err := sm2sig.NewVerifier(pub)
	require.NoError(t, err)
	old := server.HeadFromProto(before)
	require.NoError(t, verify.Head(v, old))
	require.LessOrEqual(t, old.Size, info.GetSize())
	// Wait for a head covering at least the old size, then prove consistency.
	var now ledger.SignedTreeHead
	require.Eventually(t, func() bool {
		h, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
		if err != nil {
			return false
		}
		now = server.HeadFromProto(h)
		return now.Size >= old.Size
	}, 20*time.Second, 100*time.Millisecond)
	p, err := c.Audit.GetConsistencyProof(ctx, &auditv1.GetConsistencyProofRequest{Size1: old.Size, Size2: now.Size})
	require.NoError(t, err)
	require.NoError(t, verify.Consistency(v, old, now, p.GetHashes()), "the head signed before the crash is consistent with the log after it")
}
