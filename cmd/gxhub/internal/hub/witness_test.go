package hub_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/tiles"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/ledger/witness"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

// testWitness is a witness run by another department (the auditor's office), over HTTP,
// with its state in its own directory.
type testWitness struct {
	name, url, pubFile, dir string
	refused                 chan witness.Refusal
}

func startWitness(t *testing.T, name string, logPub *sm.PrivateKey, logID string) *testWitness {
	t.Helper()
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	s, err := sm2sig.NewSigner(key)
	require.NoError(t, err)
	signer, err := witness.NewSigner(name, witness.TypeCosignature, s, &key.PublicKey)
	require.NoError(t, err)
	lk, err := witness.NewKey(logID, witness.TypeCheckpoint, &logPub.PublicKey)
	require.NoError(t, err)
	tw := &testWitness{name: name, dir: t.TempDir(), refused: make(chan witness.Refusal, 8)}
	w, err := witness.New(signer, []*witness.Key{lk}, tw.dir, nil)
	require.NoError(t, err)
	w.OnRefusal = func(r witness.Refusal) { tw.refused <- r }
	srv := httptest.NewServer(witness.Handler(w))
	t.Cleanup(srv.Close)
	tw.url = srv.URL
	pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	require.NoError(t, err)
	tw.pubFile = filepath.Join(t.TempDir(), name+".pem")
	require.NoError(t, os.WriteFile(tw.pubFile, pub, 0o644))
	return tw
}

func (tw *testWitness) config() string { return tw.name + " " + tw.url + " " + tw.pubFile }

// runHub starts a hub on cfg (seeding the demo) and returns it with a stop function.
func runHub(t *testing.T, cfg config.Config) (*testHub, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := h.URL(ln.Addr())
	dirs, err := h.SeedDemo(ctx, url)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, h.Close())
		}
	}
	t.Cleanup(stop)
	return &testHub{h: h, url: url, dirs: dirs}, stop
}

// TestWitnessRollbackAttack is the attack of issue 13 on a real hub: with the hub stopped,
// an insider deletes the last audit records together with the signed heads, the anchor
// blocks (and the kept cosignatures) above that size, so that the log, its heads and its
// embedded anchor chain agree with each other. Without a witness the hub starts and would
// go on as if nothing happened; with the auditor's office witnessing, the hub refuses to
// start and says why, and the witness keeps the evidence. Before the attack, receipts carry
// the witness's cosignature and `verify` requires it.
func TestWitnessRollbackAttack(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Insecure = true
	cfg.AuditHeadInterval = 100 * time.Millisecond
	// The hub's tree-head key exists before the first start (as after any earlier start),
	// so the witness can be given it out of band.
	logKey, err := sm.GenerateKey()
	require.NoError(t, err)
	kp, err := sm.MarshalPrivateKeyPEM(logKey, nil)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(cfg.DataDir, "ca"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, "ca", "hub-signing-key.pem"), kp, 0o600))
	sj := startWitness(t, "sj-witness", logKey, cfg.AuditLogID)
	cfg.Witnesses = []string{sj.config()}

	th, stop := runHub(t, cfg)
	c, err := sdk.Dial(ctx, th.identity(t, 0))
	require.NoError(t, err)
	defer c.Close()
	registerSome(t, c, 12, "40") // each registration is an audit record
	var info *auditv1.LogInfo
	require.Eventually(t, func() bool {
		info, err = c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
		require.NoError(t, err)
		if info.GetCheckpoint() == "" {
			return false
		}
		n, err := witness.ParseNote([]byte(info.GetCheckpoint()))
		require.NoError(t, err)
		cp, err := witness.ParseBody(n.Body)
		require.NoError(t, err)
		return cp.Size == info.GetSize()
	}, 20*time.Second, 50*time.Millisecond, "the witness cosigns the log up to its size")
	size := info.GetSize()
	require.GreaterOrEqual(t, size, uint64(12), "every registration is an audit record")

	// A receipt carries the cosignature; verify requires k of n named witnesses.
	wpub, err := os.ReadFile(sj.pubFile)
	require.NoError(t, err)
	sjKey := sdk.WitnessKey{Name: sj.name, PublicPEM: string(wpub)}
	r, err := c.AuditReceipt(ctx, size-1)
	require.NoError(t, err)
	require.NotEmpty(t, r.Checkpoint)
	pinned := sdk.ReceiptPolicy{LogKeyPEM: info.GetPublicKeyPem(), HubCAPEM: th.h.CA.RootPEM(), Witnesses: []sdk.WitnessKey{sjKey}, Threshold: 1}
	v, err := sdk.VerifyAuditReceiptPolicy(r, pinned)
	require.NoError(t, err)
	require.Equal(t, []string{"sj-witness"}, v.Cosigners)
	require.True(t, v.KeyPurposes, "the tree-head and anchor keys verified for their purposes against the pinned hub CA")
	other, err := sm.GenerateKey()
	require.NoError(t, err)
	otherPEM, err := sm.MarshalPublicKeyPEM(&other.PublicKey)
	require.NoError(t, err)
	two := pinned
	two.Witnesses, two.Threshold = append(two.Witnesses, sdk.WitnessKey{Name: "tj-witness", PublicPEM: string(otherPEM)}), 2
	_, err = sdk.VerifyAuditReceiptPolicy(r, two)
	require.ErrorIs(t, err, witness.ErrThreshold, "2 of 2 required, only one cosigned")
	stripped := *r
	stripped.Checkpoint = ""
	_, err = sdk.VerifyAuditReceiptPolicy(&stripped, pinned)
	require.ErrorIs(t, err, witness.ErrThreshold, "a receipt without the cosignature fails")
	// Each key signs only its own kind: certificates swapped between purposes fail.
	swapped := *r
	swapped.TreeHeadCertPEM, swapped.AnchorCertPEM = r.AnchorCertPEM, r.TreeHeadCertPEM
	_, err = sdk.VerifyAuditReceiptPolicy(&swapped, pinned)
	require.Error(t, err)
	sameKey := *r
	sameKey.AnchorKeyPEM = r.LogKeyPEM
	_, err = sdk.VerifyAuditReceiptPolicy(&sameKey, pinned)
	require.Error(t, err, "an anchor block must not be accepted under the tree-head key")
	// The published tiles: /checkpoint is the checkpoint the witness cosigned, and the tree
	// rebuilt from the hash tiles matches it; a second, absent witness is refused.
	logK, err := witness.NewKey(cfg.AuditLogID, witness.TypeCheckpoint, &logKey.PublicKey)
	require.NoError(t, err)
	sjPub, err := sm.ParsePublicKeyPEM(wpub)
	require.NoError(t, err)
	sjK, err := witness.NewKey(sj.name, witness.TypeCosignature, sjPub)
	require.NoError(t, err)
	tjK, err := witness.NewKey("tj-witness", witness.TypeCosignature, &other.PublicKey)
	require.NoError(t, err)
	withWitnesses := func(ws ...*witness.Key) tiles.CheckNote {
		return func(note []byte) (uint64, []byte, error) {
			cp, _, err := witness.VerifyCosigned(note, logK, ws, len(ws))
			return cp.Size, cp.Root, err
		}
	}
	tv, err := tiles.Verify(ctx, nil, th.url, withWitnesses(sjK))
	require.NoError(t, err)
	require.GreaterOrEqual(t, tv.Size, size)
	_, err = tiles.Verify(ctx, nil, th.url, withWitnesses(sjK, tjK))
	require.ErrorIs(t, err, witness.ErrThreshold)
	stop()

	// The attack: keep the first m records, delete the rest and everything above m.
	m := size / 2
	rollBack(t, cfg.DataDir, cfg.AuditLogID, m)

	// Without its witness the hub would start: the embedded chain and the heads agree with
	// the shortened log (the attack the witness is there for).
	blind := cfg
	blind.Witnesses = nil
	h, err := hub.New(ctx, blind, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err, "the rolled-back store is self-consistent")
	require.Equal(t, m, h.Audit.Log.Size())
	require.NoError(t, h.Close())

	// With the witness: refused at start, with what is wrong and what to do.
	_, err = hub.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Error(t, err, "the hub must not serve a log its witness saw larger")
	require.ErrorContains(t, err, "witness sj-witness has cosigned")
	require.ErrorContains(t, err, "will not serve")
	require.ErrorContains(t, err, "Restore a backup")
	var rb *witness.RollbackError
	require.ErrorAs(t, err, &rb)
	require.Equal(t, size, rb.WitnessSize)
	require.Equal(t, m, rb.LogSize)
	ev := <-sj.refused // the witness reports the rollback it refused (else the test's timeout says where it waited)
	require.Equal(t, "rollback", ev.Reason)
	b, err := os.ReadFile(ev.File)
	require.NoError(t, err)
	require.Contains(t, string(b), "reason rollback")
}

// rollBack deletes, in the stopped hub's SQLite file, the records from m on together with
// their tree nodes, index rows, and every signed head, anchor block and kept cosignature
// above size m — a consistent, smaller log.
func rollBack(t *testing.T, dataDir, logID string, m uint64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, sqlite.FileName))
	require.NoError(t, err)
	defer db.Close()
	exec := func(q string, args ...any) {
		_, err := db.Exec(q, args...)
		require.NoError(t, err, q)
	}
	storetest.TruncateAuditLogSQL(t, db, logID, m) // leaves, nodes and size
	exec(`DELETE FROM ledger_heads WHERE log_id = ? AND size > ?`, logID, m)
	exec(`DELETE FROM ledger_anchors WHERE log_id = ? AND tree_size > ?`, logID, m)
	exec(`DELETE FROM ledger_cosignatures WHERE log_id = ? AND size > ?`, logID, m)
	exec(`DELETE FROM audit_index WHERE log_id = ? AND idx >= ?`, logID, m)
	exec(`UPDATE audit_index_state SET next_idx = ? WHERE log_id = ? AND next_idx > ?`, m, logID, m)
}

// TestHubKeysMigrate: a data directory from before the hub separated its keys (one key
// signed heads, anchor blocks and pulls) gains its anchor and pull keys at the next start;
// the heads signed before still verify with the unchanged tree-head key, the embedded
// chain continues under the anchor key at once (a block re-anchoring the latest head),
// and the whole chain verifies with the tree-head key listed as the retired anchor key.
func TestHubKeysMigrate(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Insecure = true
	cfg.AuditHeadInterval = 100 * time.Millisecond
	legacy, err := sm.GenerateKey()
	require.NoError(t, err)
	kp, err := sm.MarshalPrivateKeyPEM(legacy, nil)
	require.NoError(t, err)
	ca := filepath.Join(cfg.DataDir, "ca")
	require.NoError(t, os.MkdirAll(ca, 0o700))
	for _, f := range []string{"hub-signing-key.pem", "anchor-signing-key.pem", "pull-signing-key.pem"} {
		require.NoError(t, os.WriteFile(filepath.Join(ca, f), kp, 0o600)) // one key for everything
	}
	th, stop := runHub(t, cfg)
	c, err := sdk.Dial(ctx, th.identity(t, 0))
	require.NoError(t, err)
	registerSome(t, c, 3, "41")
	var old *auditv1.Anchor
	require.Eventually(t, func() bool {
		old, err = c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
		return err == nil && old.GetHead().GetTreeSize() >= 3
	}, 20*time.Second, 50*time.Millisecond)
	c.Close()
	stop()

	for _, f := range []string{"anchor-signing-key.pem", "anchor-signing-cert.pem", "pull-signing-key.pem", "pull-signing-cert.pem"} {
		require.NoError(t, os.Remove(filepath.Join(ca, f)))
	}
	th, _ = runHub(t, cfg)
	c, err = sdk.Dial(ctx, th.identity(t, 0))
	require.NoError(t, err)
	defer c.Close()
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	require.NoError(t, err)
	logV, err := sm2sig.NewVerifier(&legacy.PublicKey)
	require.NoError(t, err)
	require.Equal(t, logV.KeyID(), info.GetKeyId(), "the tree-head key is unchanged")
	anchorPub, err := sm.ParsePublicKeyPEM([]byte(info.GetAnchorKeyPem()))
	require.NoError(t, err)
	pullPub, err := sm.ParsePublicKeyPEM([]byte(info.GetPullKeyPem()))
	require.NoError(t, err)
	require.False(t, anchorPub.Equal(&legacy.PublicKey))
	require.False(t, pullPub.Equal(&legacy.PublicKey))
	require.False(t, pullPub.Equal(anchorPub))
	anchorV, err := sm2sig.NewVerifier(anchorPub)
	require.NoError(t, err)
	// The pull-response key is certified for pull responses only.
	pk, err := sdk.PullKey(info, th.h.CA.RootPEM(), time.Now())
	require.NoError(t, err)
	require.True(t, pk.Equal(pullPub))
	wrong := proto.Clone(info).(*auditv1.LogInfo)
	wrong.PullKeyPem, wrong.PullCertPem = info.GetAnchorKeyPem(), info.GetAnchorCertPem()
	_, err = sdk.PullKey(wrong, th.h.CA.RootPEM(), time.Now())
	require.ErrorContains(t, err, "not the hub's certificate for pull responses", "the anchor key cannot pass as the pull key")

	// The head signed before the migration still verifies.
	oldHead, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{TreeSize: old.GetHead().GetTreeSize()})
	require.NoError(t, err)
	require.NoError(t, verify.Head(logV, convert.HeadFromProto(oldHead)))
	// The latest block is the anchor key's, without any new record.
	latest, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
	require.NoError(t, err)
	require.Equal(t, anchorV.KeyID(), latest.GetKeyId())
	require.Equal(t, old.GetHeight()+1, latest.GetHeight())
	var chain []ledger.Anchor
	for h := uint64(1); h <= latest.GetHeight(); h++ {
		b, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{Height: h})
		require.NoError(t, err)
		chain = append(chain, convert.AnchorFromProto(b))
	}
	require.NoError(t, verify.AnchorChain(verify.Keys{Log: logV, Anchor: anchorV, Retired: []ledger.Verifier{logV}}, chain))
	require.Error(t, verify.AnchorChain(verify.Keys{Log: logV, Anchor: anchorV}, chain), "old blocks need the retired key named")
	// Receipts carry the new block and verify with the key purposes checked.
	r, err := c.AuditReceipt(ctx, 0)
	require.NoError(t, err)
	v, err := sdk.VerifyAuditReceiptPolicy(r, sdk.ReceiptPolicy{LogKeyPEM: info.GetPublicKeyPem(), HubCAPEM: th.h.CA.RootPEM()})
	require.NoError(t, err)
	require.True(t, v.KeyPurposes)
}

// registerSome registers n departments (one audit record each); prefix makes their codes.
func registerSome(t *testing.T, c *sdk.Client, n int, prefix string) {
	t.Helper()
	for i := range n {
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
		require.NoError(t, err)
		_, err = c.Admin.RegisterDepartment(context.Background(), &adminv1.RegisterDepartmentRequest{
			Department:   &adminv1.Department{Code: hubCode(t, "500112", fmt.Sprintf("%s%06d", prefix, i)), Name: "测试局", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
			PublicKeyPem: string(pub),
		})
		require.NoError(t, err)
	}
}
