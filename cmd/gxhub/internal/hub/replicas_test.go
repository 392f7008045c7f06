package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// startReplica runs another hub on the same PostgreSQL schema as first, with a copy of
// first's data directory (CA, hub signing key, subject key, TLS, demo identities), as an
// operator would deploy a replica.
func startReplica(t *testing.T, first *testHub, dsn string) *testHub {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	require.NoError(t, os.CopyFS(cfg.DataDir, os.DirFS(first.h.Config.DataDir)))
	cfg.Store.Driver, cfg.Store.PostgresDSN = "postgres", dsn
	h, url := serveCopy(t, cfg)
	return &testHub{h: h, url: url, dirs: first.dirs, http: first.http}
}

// serveCopy serves a hub with cfg on a random loopback port until the test ends and
// returns it with its URL.
func serveCopy(t *testing.T, cfg config.Config, opts ...hub.Option) (*hub.Hub, string) {
	t.Helper()
	return serveLogged(t, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
}

// serveLogged is serveCopy with the hub's logger.
func serveLogged(t *testing.T, cfg config.Config, log *slog.Logger, opts ...hub.Option) (*hub.Hub, string) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, log, opts...)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", cfg.Listen)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, h.Close())
	})
	return h, h.URL(ln.Addr())
}

// TestReplicasShareOneLog runs three hubs on one PostgreSQL schema, pulls through all of
// them at once, and checks that the audit log is one consistent log: every acknowledged
// pull has exactly its own record at the index the hub returned, nothing else was
// appended, every record is included under the final signed head, and every head any
// replica signed is consistent with it.
func TestReplicasShareOneLog(t *testing.T) {
	if testing.Short() {
		t.Skip("replicas: several hubs under load")
	}
	ctx := context.Background()
	dsn := pgtest.FreshSchemaDSN(t)
	pg := func(c *config.Config) { c.Store.Driver, c.Store.PostgresDSN = "postgres", dsn }
	first := startHub(t, pg)
	replicas := []*testHub{first, startReplica(t, first, dsn), startReplica(t, first, dsn)}

	// 市场监督管理局 provides an unconditional resource; the consumers' requirements are
	// granted on filing.
	market := first.identity(t, 1)
	mc, err := sdk.Dial(ctx, market)
	require.NoError(t, err)
	defer mc.Close()
	_, err = mc.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: &exchangev1.Resource{
		Code: "500000-SCJG-REPL", Name: "企业信息", SubjectKind: "id_number", ShareType: "unconditional",
		UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000", ScopeLevel: "provincial",
		Items: []*exchangev1.DataItem{{Name: "name", Title: "姓名", Type: "string", Sensitivity: "personal"}}}})
	require.NoError(t, err)
	var subjects []string
	pub := &exchangev1.PublishRequest{Resource: "500000-SCJG-REPL", BatchId: "repl-1"}
	for i := range 20 {
		s := storetest.IDNumber(100 + i)
		subjects = append(subjects, s)
		pub.Changes = append(pub.Changes, &exchangev1.RecordChange{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: s, Fields: map[string]string{"name": fmt.Sprint("测试", i)}})
	}
	_, err = mc.Records.Publish(ctx, pub)
	require.NoError(t, err)

	// The coordinator registers the matter the pulls serve.
	cc, err := sdk.Dial(ctx, first.identity(t, 0))
	require.NoError(t, err)
	defer cc.Close()
	_, err = cc.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: &exchangev1.Matter{Code: "500000-REPL-XK", Name: "副本测试事项",
		Department: first.identity(t, 7).Code, TimeLimitDays: 5,
		LegalBasis: &exchangev1.LegalBasis{Kind: "administrative_regulation", Title: "优化营商环境条例", Article: "第三十五条"},
		Materials:  []*exchangev1.Material{{Id: "info", Name: "企业信息", Resource: "500000-SCJG-REPL", Items: []string{"name"}}}}})
	require.NoError(t, err)

	type consumer struct {
		req     string
		cases   []string      // the consumer's case for subjects[j]
		clients []*sdk.Client // one per replica
	}
	var consumers []consumer
	for _, i := range []int{2, 4, 7} { // 公安局, 公积金中心, 渝北区
		id := first.identity(t, i)
		c, err := sdk.Dial(ctx, id)
		require.NoError(t, err)
		f, err := c.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: "500000-SCJG-REPL",
			Items: []string{"name"}, MatterCodes: []string{"500000-REPL-XK"}, LegalDuty: "《优化营商环境条例》"})
		require.NoError(t, err)
		require.Equal(t, "granted", f.GetRequirement().GetState())
		cs := consumer{req: f.GetRequirement().GetId()}
		for j, s := range subjects {
			number := fmt.Sprintf("REPL-%d-%d", i, j)
			_, err := c.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: number, Matter: "500000-REPL-XK", Applicant: s})
			require.NoError(t, err)
			cs.cases = append(cs.cases, number)
		}
		c.Close()
		for _, r := range replicas {
			rc, err := sdk.Dial(ctx, id, sdk.WithURL(r.url))
			require.NoError(t, err)
			defer rc.Close()
			cs.clients = append(cs.clients, rc)
		}
		consumers = append(consumers, cs)
	}

	// Concurrent pulls: every consumer through every replica, each for the case of its subject.
	const perWorker = 15
	type ack struct {
		pull  string
		index uint64
	}
	var (
		mu     sync.Mutex
		acked  []ack
		failed = map[string]int{}
		heads  []ledger.SignedTreeHead
		wg     sync.WaitGroup
	)
	for ci, cs := range consumers {
		for ri, c := range cs.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range perWorker {
					j := (ci*7 + ri*3 + k) % len(subjects)
					resp, err := c.Pulls.Pull(ctx, &exchangev1.PullRequest{RequirementId: cs.req, MatterCode: "500000-REPL-XK",
						CaseNumber: cs.cases[j], Subjects: []string{subjects[j]}})
					mu.Lock()
					if err != nil {
						failed[fmt.Sprintf("%s: %v", sdk.Reason(err), err)]++
					} else {
						require.Len(t, resp.GetAuditReferences(), 1)
						acked = append(acked, ack{resp.GetResult().GetPullId(), resp.GetAuditReferences()[0]})
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	require.Empty(t, failed, "pulls refused or failed through replicas")
	require.Len(t, acked, len(consumers)*len(replicas)*perWorker)
	for _, r := range replicas {
		sth, err := r.h.Audit.Log.SignHead(ctx)
		require.NoError(t, err)
		heads = append(heads, sth)
	}

	// A fresh replica reads the whole log from the store.
	auditor := startReplica(t, first, dsn)
	lg := auditor.h.Audit.Log
	final, err := lg.SignHead(ctx)
	require.NoError(t, err)
	v, err := sm2sig.NewVerifier(&auditor.h.SigningKey.PublicKey)
	require.NoError(t, err)

	byPull := map[string]uint64{}
	var leaves [][]byte
	for i := range final.Size {
		e, err := lg.GetRecord(ctx, i)
		require.NoError(t, err)
		leaves = append(leaves, e.Leaf)
		if e.Record.Kind == ledger.KindPull {
			_, dup := byPull[e.Record.RequestID]
			require.False(t, dup, "pull %s audited twice", e.Record.RequestID)
			byPull[e.Record.RequestID] = i
		}
		p, err := lg.InclusionProof(ctx, i, final.Size)
		require.NoError(t, err)
		require.NoError(t, verify.Record(v, final, i, e.Record, p), "record %d included under the final head", i)
	}
	require.NoError(t, verify.Contents(v, final, leaves))
	require.Len(t, byPull, len(acked), "exactly one pull record per acknowledged pull")
	for _, a := range acked {
		i, ok := byPull[a.pull]
		require.True(t, ok, "acknowledged pull %s has no audit record", a.pull)
		require.Equal(t, a.index, i, "pull %s: the hub returned audit index %d, the record is at %d", a.pull, a.index, i)
	}
	// Every head a replica signed is consistent with the final one.
	for _, sth := range heads {
		p, err := lg.ConsistencyProof(ctx, sth.Size, final.Size)
		require.NoError(t, err)
		require.NoError(t, verify.Consistency(v, sth, final, p))
	}
	require.NoError(t, verify.Heads(v, append(heads, final)))
}
