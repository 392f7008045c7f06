package hub_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/fabric"
	"github.com/gxhub/gxhub/ledger/fabric/fabrictest"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

func TestAnchorConfig(t *testing.T) {
	file := t.TempDir() + "/network.json"
	tests := map[string]struct {
		mutate func(*config.Config)
		want   string
	}{
		"ok/embedded is the default":  {func(*config.Config) {}, ""},
		"ok/fabric":                   {func(c *config.Config) { c.Anchor, c.FabricNetwork = "fabric", file }, ""},
		"fail/unknown anchor":         {func(c *config.Config) { c.Anchor = "ethereum" }, `anchor "ethereum": use embedded or fabric`},
		"fail/fabric without network": {func(c *config.Config) { c.Anchor = "fabric" }, "anchor fabric needs fabric_network"},
		"fail/fabric network missing": {func(c *config.Config) { c.Anchor, c.FabricNetwork = "fabric", file+".gone" }, "no such file"},
		"fail/fabric with a short interval": {func(c *config.Config) {
			c.Anchor, c.FabricNetwork, c.AuditHeadInterval = "fabric", file, 100*time.Millisecond
		}, "too short for Fabric anchoring"},
	}
	require.NoError(t, os.WriteFile(file, []byte("{}"), 0o600))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := config.Default()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("ok/from the environment", func(t *testing.T) {
		c := config.Default()
		env := map[string]string{"GXHUB_ANCHOR": "fabric", "GXHUB_FABRIC_NETWORK": file}
		require.NoError(t, c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
		require.Equal(t, "fabric", c.Anchor)
		require.Equal(t, file, c.FabricNetwork)
		require.NoError(t, c.Validate())
	})
}

// registerDepartments makes n signed RegisterDepartment calls (each appends an audit
// record), pausing between them so that they span several head intervals. It returns
// each call's latency and, after each, the log size and the time it returned.
func registerDepartments(t *testing.T, th *testHub, c *sdk.Client, first, n int, pause time.Duration) (lat []time.Duration, sizes []uint64, at []time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
		require.NoError(t, err)
		req := &adminv1.RegisterDepartmentRequest{
			Department:   &adminv1.Department{Code: hubCode(t, "500112", fmt.Sprintf("3%07d", first+i)), Name: "测试局", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
			PublicKeyPem: string(pub),
		}
		t0 := time.Now()
		_, err = c.Admin.RegisterDepartment(ctx, req)
		done := time.Now()
		require.NoError(t, err)
		lat = append(lat, done.Sub(t0))
		sizes = append(sizes, th.h.Audit.Log.Size())
		at = append(at, done)
		time.Sleep(pause)
	}
	return lat, sizes, at
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100 // nearest rank
	return s[max(i-1, 0)].Round(100 * time.Microsecond)
}

// TestHubFabricAnchoring runs a hub that anchors its audit log on the native Fabric
// network (testnet/up.sh), makes signed requests that append audit records while heads
// are anchored, and then, as an auditor of another department would: reads the anchored
// heads back from Dept2's peer, verifies a record's inclusion proof offline against such a
// head, and checks that the anchored heads form a consistent chain. It logs the time from
// a record's append to its head being anchored on Fabric, and compares the latency of the
// signed request with Fabric and with embedded anchoring (anchoring is off the request path).
func TestHubFabricAnchoring(t *testing.T) {
	fabrictest.SkipUnlessEnabled(t, "the hub's Fabric anchoring test")
	n := fabrictest.Start(t)
	ctx := context.Background()
	const interval = 500 * time.Millisecond
	th := startHub(t, func(c *config.Config) {
		c.Anchor, c.FabricNetwork, c.AuditHeadInterval = "fabric", n.File, interval
		c.AuditLogID = fmt.Sprintf("gxhub.test/hub-%d", time.Now().UnixNano())
	})
	coordinator := th.identity(t, 0)
	c, err := sdk.Dial(ctx, coordinator)
	require.NoError(t, err)
	defer c.Close()

	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	require.NoError(t, err)
	pub, err := sm.ParsePublicKeyPEM([]byte(info.GetPublicKeyPem()))
	require.NoError(t, err)
	v, err := sm2sig.NewVerifier(pub)
	require.NoError(t, err)

	// The auditor's view: the other department's peer, through the adapter.
	reader, err := fabric.New(ctx, fabric.Config{NetworkFile: n.File, MSPID: "Dept2MSP", LogID: info.GetLogId(), LogPublicKey: pub})
	require.NoError(t, err)
	defer func() { require.NoError(t, reader.Close()) }()

	// Watch the anchored size on Dept2's peer.
	type mark struct {
		size uint64
		at   time.Time
	}
	var (
		mu    sync.Mutex
		marks []mark
	)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var last uint64
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			a, err := reader.Latest(ctx)
			if err == nil && a.Head.Size > last {
				last = a.Head.Size
				mu.Lock()
				marks = append(marks, mark{a.Head.Size, time.Now()})
				mu.Unlock()
			}
		}
	}()

	const records = 60
	base := th.h.Audit.Log.Size()
	fabricLat, sizes, at := registerDepartments(t, th, c, 0, records, 40*time.Millisecond)
	final := sizes[len(sizes)-1]
	require.Equal(t, base+records, final, "each registration appends one audit record")
	require.Eventually(t, func() bool {
		a, err := reader.Latest(ctx)
		return err == nil && a.Head.Size == final
	}, 60*time.Second, 50*time.Millisecond, "the head covering every record is anchored on Fabric")
	close(stop)
	<-watched

	// Append → anchored (seen on Dept2's peer) per record.
	var toAnchor []time.Duration
	for idx := base; idx < final; idx++ {
		var appended, anchored time.Time
		for i, s := range sizes {
			if s > idx {
				appended = at[i]
				break
			}
		}
		for _, m := range marks {
			if m.size > idx {
				anchored = m.at
				break
			}
		}
		require.False(t, anchored.IsZero(), "record %d never seen anchored", idx)
		toAnchor = append(toAnchor, anchored.Sub(appended))
	}
	t.Logf("record append → its head anchored on Fabric (committed on both departments' peers, seen on Dept2's), %d records, head interval %v: p50 %v, p99 %v, max %v",
		len(toAnchor), interval, pct(toAnchor, 50), pct(toAnchor, 99), pct(toAnchor, 100))
	t.Logf("signed RegisterDepartment request with Fabric anchoring: p50 %v, p99 %v (%d requests)", pct(fabricLat, 50), pct(fabricLat, 99), records)

	t.Run("inclusion proof against a head read from Dept2's peer", func(t *testing.T) {
		latest, err := reader.Latest(ctx)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(latest.Ref, "fabric:gxaudit:"), latest.Ref)
		for _, idx := range []uint64{base, base + records/2, final - 1} {
			p, err := c.Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: idx, TreeSize: latest.Head.Size})
			require.NoError(t, err)
			var r ledger.Record
			require.NoError(t, r.UnmarshalBinary(p.GetLeaf()))
			require.NoError(t, verify.Record(v, latest.Head, idx, r, p.GetHashes()), "record %d against the Fabric-anchored head", idx)
			r.Department = "91110000000000000X"
			require.Error(t, verify.Record(v, latest.Head, idx, r, p.GetHashes()))
		}
		// The same through BySize: the first anchored head covering the middle record.
		var first ledger.Anchor
		for h := uint64(1); h <= latest.Height; h++ {
			a, err := reader.Get(ctx, h)
			require.NoError(t, err)
			if a.Head.Size > base+records/2 {
				first = a
				break
			}
		}
		bySize, err := reader.BySize(ctx, first.Head.Size)
		require.NoError(t, err)
		require.Equal(t, first.Ref, bySize.Ref)
		idx := base + records/2
		p, err := c.Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: idx, TreeSize: bySize.Head.Size})
		require.NoError(t, err)
		var r ledger.Record
		require.NoError(t, r.UnmarshalBinary(p.GetLeaf()))
		require.NoError(t, verify.Record(v, bySize.Head, idx, r, p.GetHashes()))
	})

	t.Run("the anchored heads form a consistent chain", func(t *testing.T) {
		latest, err := reader.Latest(ctx)
		require.NoError(t, err)
		var chain []ledger.Anchor
		for h := uint64(1); h <= latest.Height; h++ {
			a, err := reader.Get(ctx, h)
			require.NoError(t, err)
			chain = append(chain, a)
		}
		require.GreaterOrEqual(t, len(chain), 3, "heads anchored while requests ran")
		require.NoError(t, fabric.VerifyChain(v, chain))
		// The hub serves the same anchors (through its own peer, Dept1's).
		hubLatest, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
		require.NoError(t, err)
		require.Equal(t, latest.Ref, hubLatest.GetRef())
		require.True(t, ledger.SameHead(latest.Head.TreeHead, convert.AnchorFromProto(hubLatest).Head.TreeHead))
		t.Logf("%d heads anchored on Fabric for %d records", len(chain), latest.Head.Size)
	})

	t.Run("request latency does not include anchoring", func(t *testing.T) {
		emb := startHub(t, func(c *config.Config) { c.AuditHeadInterval = interval })
		ec, err := sdk.Dial(ctx, emb.identity(t, 0))
		require.NoError(t, err)
		defer ec.Close()
		embLat, _, _ := registerDepartments(t, emb, ec, 0, records, 40*time.Millisecond)
		t.Logf("signed RegisterDepartment request p50: Fabric anchoring %v, embedded anchoring %v (p99 %v vs %v)",
			pct(fabricLat, 50), pct(embLat, 50), pct(fabricLat, 99), pct(embLat, 99))
		// Were anchoring on the request path, a request would last at least one Fabric
		// commit, i.e. about as long as a record takes to be anchored.
		require.Less(t, pct(fabricLat, 50), pct(toAnchor, 50))
	})
}
