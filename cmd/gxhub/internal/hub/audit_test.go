package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
)

// TestAuditTrail registers departments (each an audit record), then checks as an auditor
// that every record is provably in the signed log and that the anchor chain verifies,
// offline, with the key the log publishes.
func TestAuditTrail(t *testing.T) {
	th := startHub(t, func(c *config.Config) { c.AuditHeadInterval = 100 * time.Millisecond })
	ctx := context.Background()
	coordinator := th.identity(t, 0) // 大数据应用发展管理局: coordinator and auditor
	c, err := sdk.Dial(ctx, coordinator)
	require.NoError(t, err)
	defer c.Close()

	const n = 3
	seeded, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{}) // the demo's own seeding, audited
	require.NoError(t, err)
	for i := range n {
		key, err := sm.GenerateKey()
		require.NoError(t, err)
		pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
		require.NoError(t, err)
		_, err = c.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{
			Department:   &adminv1.Department{Code: hubCode(t, "500112", "3000000"+string(rune('1'+i))), Name: "测试局", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
			PublicKeyPem: string(pub),
		})
		require.NoError(t, err)
	}

	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	require.NoError(t, err)
	require.Equal(t, seeded.GetSize()+uint64(n), info.GetSize())
	pub, err := sm.ParsePublicKeyPEM([]byte(info.GetPublicKeyPem()))
	require.NoError(t, err)
	v, err := sm2sig.NewVerifier(pub)
	require.NoError(t, err)
	require.Equal(t, info.GetKeyId(), v.KeyID())

	// Wait for a signed head covering all records (published every 100ms).
	var head *auditv1.SignedTreeHead
	require.Eventually(t, func() bool {
		head, err = c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
		return err == nil && head.GetTreeSize() == info.GetSize()
	}, 10*time.Second, 50*time.Millisecond, "a signed head of size %d", info.GetSize())
	sth := convert.HeadFromProto(head)
	require.NoError(t, verify.Head(v, sth))

	for i := seeded.GetSize(); i < info.GetSize(); i++ {
		rec, err := c.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: i})
		require.NoError(t, err)
		require.Equal(t, string(server.KindDepartmentRegister), rec.GetKind())
		require.Equal(t, coordinator.Code, rec.GetDepartment())
		p, err := c.Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: i})
		require.NoError(t, err)
		require.Equal(t, rec.GetLeaf(), p.GetLeaf())
		var r ledger.Record
		require.NoError(t, r.UnmarshalBinary(p.GetLeaf()))
		require.NoError(t, verify.Record(v, convert.HeadFromProto(p.GetHead()), i, r, p.GetHashes()))
		// A changed record does not verify against the signed head.
		r.Department = "91110000000000000X"
		require.Error(t, verify.Record(v, convert.HeadFromProto(p.GetHead()), i, r, p.GetHashes()))
	}

	// The anchor chain: the latest block anchors a head and verifies offline.
	require.Eventually(t, func() bool {
		a, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
		return err == nil && a.GetHead().GetTreeSize() == info.GetSize()
	}, 10*time.Second, 50*time.Millisecond)
	a, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(a.GetRef(), "embedded"), a.GetRef())
	// Blocks are signed by the anchor key, a key of its own: not by the tree-head key.
	anchorPub, err := sm.ParsePublicKeyPEM([]byte(info.GetAnchorKeyPem()))
	require.NoError(t, err)
	require.False(t, anchorPub.Equal(pub), "the anchor key is not the tree-head key")
	av, err := sm2sig.NewVerifier(anchorPub)
	require.NoError(t, err)
	require.Error(t, verify.Block(verify.Keys{Log: v, Anchor: v}, convert.AnchorFromProto(a)), "a block does not verify as signed by the tree-head key")
	keys := verify.Keys{Log: v, Anchor: av}
	require.NoError(t, verify.Block(keys, convert.AnchorFromProto(a)))
	var chain []ledger.Anchor
	for h := uint64(1); h <= a.GetHeight(); h++ {
		b, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{Height: h})
		require.NoError(t, err)
		chain = append(chain, convert.AnchorFromProto(b))
	}
	require.NoError(t, verify.AnchorChain(keys, chain))
	chain[0].Head.Root[0] ^= 1
	require.Error(t, verify.AnchorChain(keys, chain), "a changed block breaks the chain")

	// Consistency from the first anchored head to the latest.
	first, err := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{Height: 1})
	require.NoError(t, err)
	cp, err := c.Audit.GetConsistencyProof(ctx, &auditv1.GetConsistencyProofRequest{Size1: first.GetHead().GetTreeSize(), Size2: info.GetSize()})
	require.NoError(t, err)
	require.NoError(t, verify.Consistency(v, convert.HeadFromProto(first.GetHead()), sth, cp.GetHashes()))

	// Access: a department that neither audits nor acted cannot read records.
	other, err := sdk.Dial(ctx, th.identity(t, 2))
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Audit.GetRecord(ctx, &auditv1.GetRecordRequest{Index: 0})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	require.Equal(t, "AUDITOR_REQUIRED", sdk.Reason(err))
	_, err = other.Audit.GetInclusionProof(ctx, &auditv1.GetInclusionProofRequest{Index: info.GetSize() + 5})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}
