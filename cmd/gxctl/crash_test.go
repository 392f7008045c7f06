package main_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestCrashLosesNothingAcknowledged runs concurrent writes against a real gxhub process —
// registrations (a department row plus an audit record), publishes (a provider's batch of
// one record) and requirement decisions (a consumer files a requirement, granted on filing;
// the coordinator revokes it) — each acknowledged only when durable, kills the hub with
// SIGKILL at a random moment, restarts it on the same data directory, and checks that
// every acknowledged registration, publish and decision is there with its audit record,
// and that the last signed head seen before the crash is consistent with the log after
// it. After the last restart it scans the business tables themselves (checkCommitted):
// every committed registration, batch and requirement decision — acknowledged or not —
// has exactly one audit record, and no audit intent is left pending. GXHUB_CRASH_RUNS
// sets the number of kills (default 3; `make crash` runs 20).
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
	var ack crashAcks  // acknowledged publishes and decisions
	var lastHead *auditv1.SignedTreeHead
	for run := range runs {
		hub := startGxhub(t, gxhubBin, data, addr)
		coordinator, err := identity.Load(hub.identities()[0], nil)
		require.NoError(t, err)
		ctx := context.Background()
		c, err := sdk.Dial(ctx, coordinator)
		require.NoError(t, err)
		checkDurable(t, c, acked, lastHead)
		provider, consumer := crashParties(t, hub)
		ack.check(t, provider, c)

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
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ack.publish(ctx, provider, fmt.Sprintf("crash-%d-%d", run, i), validCodeOrg(t, fmt.Sprintf("9%02d%05d", run%100, i%100000)))
			}
		}()
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ack.decide(ctx, consumer, c)
			}
		}()
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
		provider.Close()
		consumer.Close()
		t.Logf("run %d: killed with %d acknowledged registrations, %d publishes, %d filings and %d revocations so far",
			run, len(acked), len(ack.published), len(ack.filed), len(ack.revoked))
	}
	hub := startGxhub(t, gxhubBin, data, addr)
	coordinator, err := identity.Load(hub.identities()[0], nil)
	require.NoError(t, err)
	c, err := sdk.Dial(context.Background(), coordinator)
	require.NoError(t, err)
	defer c.Close()
	checkDurable(t, c, acked, lastHead)
	provider, consumer := crashParties(t, hub)
	defer provider.Close()
	defer consumer.Close()
	ack.check(t, provider, c)
	unanswered := checkCommitted(t, data, acked, &ack)
	t.Logf("%d kills: %d registrations, %d publishes, %d filings and %d revocations acknowledged; %d writes committed without an answer, each with exactly one audit record",
		runs, len(acked), len(ack.published), len(ack.filed), len(ack.revoked), unanswered)
	require.Positive(t, len(acked), "the load made progress")
	require.Positive(t, len(ack.published), "publishes made progress")
	require.Positive(t, len(ack.revoked), "decisions made progress")
}

// crashResource is the demo resource the crash load publishes to and files requirements on
// (unconditional: a requirement is granted on filing).
const crashResource = "500000-SCJG-0001"

// crashParties returns clients of the demo provider of crashResource and of a consumer.
func crashParties(t *testing.T, hub *hubProc) (provider, consumer *sdk.Client) {
	t.Helper()
	ctx := context.Background()
	for _, dir := range hub.identities() {
		id, err := identity.Load(dir, nil)
		require.NoError(t, err)
		c, err := sdk.Dial(ctx, id)
		require.NoError(t, err)
		me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		require.NoError(t, err)
		res, err := c.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: crashResource})
		require.NoError(t, err)
		switch {
		case provider == nil && res.GetProvider() == id.Code:
			provider = c
		case consumer == nil && slices.Contains(me.GetDepartment().GetRoles(), adminv1.Role_ROLE_CONSUMER):
			consumer = c
		default:
			c.Close()
		}
	}
	require.NotNil(t, provider, "a demo provider of %s", crashResource)
	require.NotNil(t, consumer, "a demo consumer")
	return provider, consumer
}

// crashAcks records the publishes and decisions the hub acknowledged.
type crashAcks struct {
	mu        sync.Mutex
	published map[string]string // batch id → subject
	filed     []string          // requirement ids granted on filing
	revoked   []string          // requirement ids whose revocation was acknowledged
}

func (a *crashAcks) publish(ctx context.Context, provider *sdk.Client, batch, subject string) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := provider.Records.Publish(cctx, &exchangev1.PublishRequest{Resource: crashResource, BatchId: batch,
		Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: subject,
			Fields: map[string]string{"uscc": subject, "name": "崩溃测试企业" + subject[10:17]}}}})
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.published == nil {
		a.published = map[string]string{}
	}
	a.published[batch] = subject
}

func (a *crashAcks) decide(ctx context.Context, consumer, coordinator *sdk.Client) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f, err := consumer.Requirements.FileRequirement(cctx, &exchangev1.FileRequirementRequest{Resource: crashResource,
		Items: []string{"name"}, MatterCodes: []string{"500112-YB-0001"}, LegalDuty: "《优化营商环境条例》"})
	if err != nil {
		return
	}
	id := f.GetRequirement().GetId()
	a.mu.Lock()
	a.filed = append(a.filed, id)
	a.mu.Unlock()
	if _, err := coordinator.Requirements.DecideRequirement(cctx, &exchangev1.DecideRequirementRequest{Id: id, Action: "revoke",
		Comment: "崩溃测试：撤销"}); err != nil {
		return
	}
	a.mu.Lock()
	a.revoked = append(a.revoked, id)
	a.mu.Unlock()
}

// check asserts every acknowledged publish and decision survived, with its audit record.
func (a *crashAcks) check(t *testing.T, provider, auditor *sdk.Client) {
	t.Helper()
	ctx := context.Background()
	a.mu.Lock()
	defer a.mu.Unlock()
	for batch, subject := range a.published {
		h, err := provider.Records.GetRecordHistory(ctx, &exchangev1.GetRecordHistoryRequest{Resource: crashResource, Subject: subject})
		require.NoError(t, err, "acknowledged publish %s lost", batch)
		require.True(t, slices.ContainsFunc(h.GetVersions(), func(r *exchangev1.Record) bool { return r.GetBatchId() == batch }),
			"acknowledged batch %s is not in the history of %s", batch, subject)
	}
	revoked := map[string]bool{}
	for _, id := range a.revoked {
		revoked[id] = true
	}
	for _, id := range a.filed {
		r, err := provider.Requirements.GetRequirement(ctx, &exchangev1.GetRequirementRequest{Id: id})
		require.NoError(t, err, "acknowledged filing %s lost", id)
		if revoked[id] {
			require.Equal(t, "revoked", r.GetState(), "acknowledged revocation of %s lost", id)
		}
	}
	// Each acknowledged write has its audit record, found through the audit index (so this
	// also checks the index caught up with the log after the crash).
	audit := func(kind string) map[string][]string { // request id → reasons
		out := map[string][]string{}
		_, err := auditor.SearchAuditRecords(ctx, &auditv1.SearchRecordsRequest{Kind: kind, Resource: crashResource}, func(r *auditv1.AuditRecord) error {
			out[r.GetRequestId()] = append(out[r.GetRequestId()], r.GetReason())
			return nil
		}, nil)
		require.NoError(t, err)
		return out
	}
	publishes := audit(string(ledger.KindPublish))
	for batch := range a.published {
		require.NotEmpty(t, publishes[batch], "acknowledged publish %s has no audit record", batch)
	}
	decisions := audit(string(ledger.KindRequirementDecision))
	for _, id := range a.filed {
		require.NotEmpty(t, decisions[id], "acknowledged filing %s has no audit record", id)
	}
	for _, id := range a.revoked {
		require.True(t, slices.ContainsFunc(decisions[id], func(r string) bool { return strings.HasPrefix(r, "revoke") }),
			"acknowledged revocation of %s has no audit record: %q", id, decisions[id])
	}
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
	old := convert.HeadFromProto(before)
	require.NoError(t, verify.Head(v, old))
	require.LessOrEqual(t, old.Size, info.GetSize())
	// Wait for a head covering at least the old size, then prove consistency.
	var now ledger.SignedTreeHead
	require.Eventually(t, func() bool {
		h, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
		if err != nil {
			return false
		}
		now = convert.HeadFromProto(h)
		return now.Size >= old.Size
	}, 20*time.Second, 100*time.Millisecond)
	p, err := c.Audit.GetConsistencyProof(ctx, &auditv1.GetConsistencyProofRequest{Size1: old.Size, Size2: now.Size})
	require.NoError(t, err)
	require.NoError(t, verify.Consistency(v, old, now, p.GetHashes()), "the head signed before the crash is consistent with the log after it")
}

// checkCommitted reads the hub's SQLite database (read-only, beside the running hub) and
// matches every committed business row of the crash load to its audit records: each
// department to exactly one department.register record, each publish batch to exactly one
// publish record, each requirement's decisions to as many requirement.decision records;
// no record names a row that does not exist, and the outbox holds no pending intent. It
// returns how many of those writes committed without being acknowledged.
func checkCommitted(t *testing.T, dataDir string, acked []string, ack *crashAcks) int {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, sqlite.FileName)+"?mode=ro&_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot of every table
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // read only
	strs := func(q string) []string {
		rows, err := tx.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	var pending int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_outbox WHERE leaf_idx IS NULL`).Scan(&pending))
	require.Zero(t, pending, "audit intents left pending after the restart")

	// The audit records, decoded from the leaves; each drained intent is the leaf it points to.
	registered, published, decided := map[string]int{}, map[string]int{}, map[string]int{}
	demo := map[string]bool{} // the demo's departments, registered by the hub itself
	leaves := map[int64][]byte{}
	for idx, leaf := range storetest.AuditLeavesSQL(t, tx, "gxhub/audit") {
		leaves[int64(idx)] = leaf
		var r ledger.Record
		require.NoError(t, r.UnmarshalBinary(leaf), "leaf %d", idx)
		switch {
		case r.Kind == server.KindDepartmentRegister && !strings.HasPrefix(r.Reason, "demo department: new key"):
			registered[r.Resource]++
			demo[r.Resource] = demo[r.Resource] || r.Department == "system"
		case r.Kind == ledger.KindPublish:
			published[r.RequestID]++
		case r.Kind == ledger.KindRequirementDecision && r.RequestID != "":
			decided[r.RequestID]++
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT leaf_idx, leaf FROM audit_outbox`)
	require.NoError(t, err)
	intents := 0
	for rows.Next() {
		var idx int64
		var leaf []byte
		require.NoError(t, rows.Scan(&idx, &leaf))
		require.Equal(t, leaf, leaves[idx], "the leaf at %d is the intent that names it", idx)
		intents++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	t.Logf("committed rows checked against %d audit records (%d from the outbox)", len(leaves), intents)

	unanswered := 0
	ackedCode := map[string]bool{}
	for _, c := range acked {
		ackedCode[c] = true
	}
	depts := strs(`SELECT code FROM departments`)
	for _, code := range depts {
		require.Equal(t, 1, registered[code], "department %s: %d registration records", code, registered[code])
		if !ackedCode[code] && !demo[code] {
			unanswered++
		}
	}
	require.Len(t, registered, len(depts), "a registration record for a department that is not stored")
	batches := strs(`SELECT id FROM record_batches`)
	for _, id := range batches {
		require.Equal(t, 1, published[id], "batch %s: %d publish records", id, published[id])
		if _, ok := ack.published[id]; !ok && !strings.HasPrefix(id, "demo-") {
			unanswered++
		}
	}
	require.Len(t, published, len(batches), "a publish record for a batch that is not stored")
	filed, revoked := map[string]bool{}, map[string]bool{}
	for _, id := range ack.filed {
		filed[id] = true
	}
	for _, id := range ack.revoked {
		revoked[id] = true
	}
	reqs := strs(`SELECT requirement FROM requirement_decisions`)
	perReq := map[string]int{}
	for _, id := range reqs {
		perReq[id]++
	}
	for id, n := range perReq {
		require.Equal(t, n, decided[id], "requirement %s: %d decisions, %d decision records", id, n, decided[id])
		if !filed[id] {
			unanswered++ // its filing
		}
		var revokes int
		require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM requirement_decisions WHERE requirement = $1 AND action = 'revoke'`, id).Scan(&revokes))
		if revokes > 0 && !revoked[id] {
			unanswered++
		}
	}
	require.Len(t, decided, len(perReq), "decision records for a requirement that is not stored")
	return unanswered
}
