package testnet_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
)

// network is testnet/.run/network.json, as written by up.sh.
type network struct {
	Channel           string `json:"channel"`
	Chaincode         string `json:"chaincode"`
	EndorsementPolicy string `json:"endorsementPolicy"`
	Organizations     []struct {
		MspID string `json:"mspId"`
		Name  string `json:"name"`
		Peer  struct {
			Address    string `json:"address"`
			ServerName string `json:"serverName"`
			TLSCACert  string `json:"tlsCACert"`
		} `json:"peer"`
		Client struct {
			CertFile string `json:"certFile"`
			KeyFile  string `json:"keyFile"`
		} `json:"client"`
	} `json:"organizations"`
}

// anchoredHead is the chaincode's AnchoredHead JSON.
type anchoredHead struct {
	LogID       string   `json:"logId"`
	Size        uint64   `json:"size"`
	RootHash    string   `json:"rootHash"`
	Time        int64    `json:"time"`
	Signature   string   `json:"signature"`
	KeyID       string   `json:"keyId"`
	Height      uint64   `json:"height"`
	Consistency []string `json:"consistency"`
	TxID        string   `json:"txId"`
}

func fabricEnabled() bool {
	return os.Getenv("GXHUB_FABRIC") == "1" || os.Getenv("CI") == "true"
}

// runScript runs a testnet script with the run folder in env and logs its output.
func runScript(t *testing.T, env []string, name string) {
	t.Helper()
	cmd := exec.Command("./" + name) // relative to the package folder, testnet/
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", name, out)
	require.NoError(t, err, "%s failed; see the output above and the logs under the run folder", name)
}

// TestFabricAnchoring brings up the native Fabric network (testnet/up.sh), anchors a
// sequence of SM2-signed tree heads of an SM3 Merkle tree through fabric-gateway with
// both departments endorsing, reads them back from the other department's peer, and
// checks that the chaincode refuses inconsistent, forked, stale and badly signed heads.
func TestFabricAnchoring(t *testing.T) {
	if !fabricEnabled() {
		t.Skip("\n" + strings.Repeat("!", 78) + "\n" +
			"SKIPPED: the Fabric end-to-end test needs GXHUB_FABRIC=1 (or CI=true).\n" +
			"It builds Fabric v2.5.9 (testnet/build.sh, ~2.5 min cold) and runs a network on 127.0.0.1.\n" +
			"Run: make testnet-test   or   GXHUB_FABRIC=1 go test -count=1 -v -run TestFabric ./testnet/\n" +
			strings.Repeat("!", 78))
	}
	run := filepath.Join(t.TempDir(), "run")
	env := []string{"GXHUB_TESTNET_RUN=" + run}

	start := time.Now()
	runScript(t, env, "build.sh")
	t.Logf("build.sh: %v", time.Since(start))
	start = time.Now()
	t.Cleanup(func() {
		if os.Getenv("GXHUB_TESTNET_KEEP") == "1" {
			t.Logf("GXHUB_TESTNET_KEEP=1: network left running in %s; stop it with GXHUB_TESTNET_RUN=%s testnet/down.sh", run, run)
			return
		}
		runScript(t, env, "down.sh")
	})
	runScript(t, env, "up.sh")
	t.Logf("network bring-up (up.sh): %v", time.Since(start))

	raw, err := os.ReadFile(filepath.Join(run, "network.json"))
	require.NoError(t, err)
	var nw network
	require.NoError(t, json.Unmarshal(raw, &nw))
	require.Len(t, nw.Organizations, 2)

	gw1 := connect(t, nw, 0)
	gw2 := connect(t, nw, 1)
	cc1 := gw1.GetNetwork(nw.Channel).GetContract(nw.Chaincode)
	cc2 := gw2.GetNetwork(nw.Channel).GetContract(nw.Chaincode)

	// The log: an SM2 key (the hub's ledger/sm2sig signer) and an SM3 Merkle tree.
	key, err := sm.GenerateKey()
	require.NoError(t, err)
	signer, err := sm2sig.NewSigner(key)
	require.NoError(t, err)
	pubPEM, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	require.NoError(t, err)
	logID := fmt.Sprintf("gxhub.test/audit-%d", time.Now().UnixNano())
	leaves := make([][]byte, 64)
	for i := range leaves {
		leaves[i] = []byte(fmt.Sprintf(`{"seq":%d,"who":"Dept1MSP","what":"pull","case":"2026-%04d"}`, i, i))
	}
	sign := func(d [][]byte) ledger.SignedTreeHead {
		th := ledger.TreeHead{LogID: logID, Size: uint64(len(d)), Root: mth(d), Time: time.Now()}
		msg, err := th.SignedBytes()
		require.NoError(t, err)
		sig, err := signer.Sign(context.Background(), msg)
		require.NoError(t, err)
		return ledger.SignedTreeHead{TreeHead: th, KeyID: signer.KeyID(), Signature: sig}
	}

	// InitLog; the first submits may fail until discovery sees both organisations' peers.
	var initErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if _, initErr = cc1.SubmitTransaction("InitLog", logID, string(pubPEM)); initErr == nil {
			break
		}
		t.Logf("InitLog not yet accepted (retrying): %v", initErr)
	}
	require.NoError(t, initErr)

	// A sequence of heads, one leaf more each time, each with its consistency proof.
	//
	// commit.Status reports the commit on the gateway's own peer only. The next AnchorHead
	// is endorsed by both peers; if Dept2's peer has not committed the previous block yet,
	// it simulates against the older head and the chaincode (rightly) refuses the proof.
	// So, like an anchoring client must, wait until the other department's peer has the
	// block too before the next submit.
	qscc2 := gw2.GetNetwork(nw.Channel).GetContract("qscc")
	const submits = 50
	latencies := make([]time.Duration, 0, submits)
	everywhere := make([]time.Duration, 0, submits)
	var phases [3]time.Duration
	var lastTx string
	prev := 0
	for size := 1; size <= submits; size++ {
		h := sign(leaves[:size])
		var proof [][]byte
		if prev > 0 {
			proof = consistency(prev, leaves[:size])
		}
		t0 := time.Now()
		prop, err := cc1.NewProposal("AnchorHead", client.WithArguments(anchorArgs(h, proof)...))
		require.NoError(t, err)
		tx, err := prop.Endorse()
		require.NoError(t, err, "size %d", size)
		t1 := time.Now()
		commit, err := tx.Submit()
		require.NoError(t, err)
		t2 := time.Now()
		status, err := commit.Status()
		require.NoError(t, err)
		t3 := time.Now()
		require.True(t, status.Successful, "size %d: commit status %v", size, status.Code)
		waitForBlock(t, qscc2, nw.Channel, status.BlockNumber)
		latencies = append(latencies, t3.Sub(t0))
		everywhere = append(everywhere, time.Since(t0))
		phases[0] += t1.Sub(t0)
		phases[1] += t2.Sub(t1)
		phases[2] += t3.Sub(t2)

		var a anchoredHead
		require.NoError(t, json.Unmarshal(tx.Result(), &a))
		require.Equal(t, uint64(size), a.Size)
		require.Equal(t, uint64(size), a.Height)
		require.Equal(t, signer.KeyID(), a.KeyID, "the chaincode's key id must match ledger/sm2sig.KeyID")
		lastTx = commit.TransactionID()
		prev = size
	}
	p50, p99 := percentile(latencies, 50), percentile(latencies, 99)
	t.Logf("submit→commit latency over %d AnchorHead transactions: p50 %v, p99 %v (mean endorse %v, submit %v, commit wait %v)",
		submits, p50.Round(time.Millisecond), p99.Round(time.Millisecond),
		(phases[0] / submits).Round(time.Millisecond), (phases[1] / submits).Round(time.Millisecond), (phases[2] / submits).Round(time.Millisecond))
	t.Logf("submit→committed on both departments' peers: p50 %v, p99 %v",
		percentile(everywhere, 50).Round(time.Millisecond), percentile(everywhere, 99).Round(time.Millisecond))

	t.Run("read back from the other department's peer", func(t *testing.T) {
		var latest anchoredHead
		evaluateJSON(t, cc2, &latest, "LatestHead", logID)
		require.Equal(t, uint64(submits), latest.Size)
		require.Equal(t, base64.StdEncoding.EncodeToString(mth(leaves[:submits])), latest.RootHash)
		require.Equal(t, lastTx, latest.TxID)

		for _, size := range []uint64{1, 17, 32} {
			var a anchoredHead
			evaluateJSON(t, cc2, &a, "HeadAt", logID, strconv.FormatUint(size, 10))
			require.Equal(t, base64.StdEncoding.EncodeToString(mth(leaves[:size])), a.RootHash, "size %d", size)
			// The stored head verifies offline with the hub's verifier.
			sig, err := base64.StdEncoding.DecodeString(a.Signature)
			require.NoError(t, err)
			th := ledger.TreeHead{LogID: a.LogID, Size: a.Size, Root: mth(leaves[:size]), Time: time.Unix(0, a.Time)}
			msg, err := th.SignedBytes()
			require.NoError(t, err)
			v, err := sm2sig.NewVerifier(&key.PublicKey)
			require.NoError(t, err)
			require.NoError(t, v.Verify(msg, sig))
		}
		var byHeight anchoredHead
		evaluateJSON(t, cc2, &byHeight, "AnchorAt", logID, "17")
		require.Equal(t, uint64(17), byHeight.Size)
		require.Len(t, byHeight.Consistency, len(consistency(16, leaves[:17])))
	})

	t.Run("both departments endorsed", func(t *testing.T) {
		qscc := gw2.GetNetwork(nw.Channel).GetContract("qscc")
		raw, err := qscc.EvaluateTransaction("GetTransactionByID", nw.Channel, lastTx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"Dept1MSP", "Dept2MSP"}, endorsers(t, raw))
	})

	t.Run("one department alone cannot anchor", func(t *testing.T) {
		h := sign(leaves[:submits+1])
		prop, err := cc1.NewProposal("AnchorHead",
			client.WithArguments(anchorArgs(h, consistency(submits, leaves[:submits+1]))...),
			client.WithEndorsingOrganizations("Dept1MSP"))
		require.NoError(t, err)
		tx, err := prop.Endorse()
		require.NoError(t, err)
		commit, err := tx.Submit()
		require.NoError(t, err)
		status, err := commit.Status()
		require.NoError(t, err)
		require.False(t, status.Successful)
		require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, status.Code)
	})

	// Refusals. forked shares the first 10 leaves with leaves, then differs.
	forked := slices.Clone(leaves[:10])
	for i := 10; i < 64; i++ {
		forked = append(forked, []byte(fmt.Sprintf(`{"seq":%d,"rewritten":true}`, i)))
	}
	other, err := sm.GenerateKey()
	require.NoError(t, err)
	otherSigner, err := sm2sig.NewSigner(other)
	require.NoError(t, err)
	badlySigned := sign(leaves[:submits+2])
	msg, err := badlySigned.SignedBytes()
	require.NoError(t, err)
	badlySigned.Signature, err = otherSigner.Sign(context.Background(), msg)
	require.NoError(t, err)

	refusals := []struct {
		name  string
		head  ledger.SignedTreeHead
		proof [][]byte
		code  string
	}{
		{"inconsistent: rewritten log with its own valid proof", sign(forked[:60]), consistency(submits, forked[:60]), "GXANCHOR_INCONSISTENT"},
		{"inconsistent: real head, proof from another size", sign(leaves[:60]), consistency(submits-1, leaves[:60]), "GXANCHOR_INCONSISTENT"},
		{"fork: same size, other root", sign(forked[:submits]), nil, "GXANCHOR_FORK"},
		{"fork: older anchored size, other root", sign(forked[:20]), nil, "GXANCHOR_FORK"},
		{"stale: smaller size", sign(leaves[:submits-1]), nil, "GXANCHOR_STALE"},
		{"bad signature", badlySigned, consistency(submits, leaves[:submits+2]), "GXANCHOR_BAD_SIGNATURE"},
	}
	for _, tc := range refusals {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, err := cc1.Submit("AnchorHead", client.WithArguments(anchorArgs(tc.head, tc.proof)...))
			require.Error(t, err)
			var endorseErr *client.EndorseError
			require.ErrorAs(t, err, &endorseErr, "a refusal must come from the endorsing peers, not the commit")
			require.Contains(t, err.Error(), tc.code)
		})
	}

	t.Run("refusals changed nothing", func(t *testing.T) {
		var latest anchoredHead
		evaluateJSON(t, cc1, &latest, "LatestHead", logID)
		require.Equal(t, uint64(submits), latest.Size)
		require.Equal(t, lastTx, latest.TxID)
	})
}

// waitForBlock waits until the peer behind qscc has committed block number block.
func waitForBlock(t *testing.T, qscc *client.Contract, channel string, block uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := qscc.EvaluateTransaction("GetChainInfo", channel)
		require.NoError(t, err)
		var info common.BlockchainInfo
		require.NoError(t, proto.Unmarshal(raw, &info))
		if info.GetHeight() > block {
			return
		}
		require.True(t, time.Now().Before(deadline), "peer still at height %d, waiting for block %d", info.GetHeight(), block)
		time.Sleep(5 * time.Millisecond)
	}
}

func anchorArgs(h ledger.SignedTreeHead, proof [][]byte) []string {
	p := make([]string, len(proof))
	for i, n := range proof {
		p[i] = base64.StdEncoding.EncodeToString(n)
	}
	pj, _ := json.Marshal(p) // a []string always marshals
	return []string{
		h.LogID, strconv.FormatUint(h.Size, 10), base64.StdEncoding.EncodeToString(h.Root),
		strconv.FormatInt(h.Time.UnixNano(), 10), base64.StdEncoding.EncodeToString(h.Signature), string(pj),
	}
}

func evaluateJSON(t *testing.T, c *client.Contract, v any, name string, args ...string) {
	t.Helper()
	out, err := c.EvaluateTransaction(name, args...)
	require.NoError(t, err, "%s%v", name, args)
	require.NoError(t, json.Unmarshal(out, v))
}

// connect opens a gateway to organisation i's peer as that organisation's client user.
func connect(t *testing.T, nw network, i int) *client.Gateway {
	t.Helper()
	org := nw.Organizations[i]
	caPEM, err := os.ReadFile(org.Peer.TLSCACert)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(org.Peer.Address,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, org.Peer.ServerName)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	certPEM, err := os.ReadFile(org.Client.CertFile)
	require.NoError(t, err)
	cert, err := identity.CertificateFromPEM(certPEM)
	require.NoError(t, err)
	id, err := identity.NewX509Identity(org.MspID, cert)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(org.Client.KeyFile)
	require.NoError(t, err)
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(key)
	require.NoError(t, err)
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second), client.WithEndorseTimeout(20*time.Second),
		client.WithSubmitTimeout(10*time.Second), client.WithCommitStatusTimeout(time.Minute))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

// endorsers returns the MSP ids that endorsed the transaction in a qscc
// GetTransactionByID result (a ProcessedTransaction).
func endorsers(t *testing.T, processed []byte) []string {
	t.Helper()
	var pt peer.ProcessedTransaction
	require.NoError(t, proto.Unmarshal(processed, &pt))
	require.Equal(t, int32(peer.TxValidationCode_VALID), pt.GetValidationCode())
	var payload common.Payload
	require.NoError(t, proto.Unmarshal(pt.GetTransactionEnvelope().GetPayload(), &payload))
	var tx peer.Transaction
	require.NoError(t, proto.Unmarshal(payload.GetData(), &tx))
	require.Len(t, tx.GetActions(), 1)
	var cap peer.ChaincodeActionPayload
	require.NoError(t, proto.Unmarshal(tx.GetActions()[0].GetPayload(), &cap))
	var msps []string
	for _, e := range cap.GetAction().GetEndorsements() {
		var id msp.SerializedIdentity
		require.NoError(t, proto.Unmarshal(e.GetEndorser(), &id))
		msps = append(msps, id.GetMspid())
	}
	return msps
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100 // nearest rank
	return s[max(i-1, 0)]
}

// A small RFC 6962 Merkle tree over SM3 (leaf prefix 0x00, node prefix 0x01), written
// from the RFC's definitions, independent of the chaincode's hasher.

func sm3(parts ...[]byte) []byte {
	s := sm.Sum(bytes.Join(parts, nil))
	return s[:]
}

func mth(d [][]byte) []byte {
	switch len(d) {
	case 0:
		return sm3()
	case 1:
		return sm3([]byte{0}, d[0])
	}
	k := largestPow2Below(len(d))
	return sm3([]byte{1}, mth(d[:k]), mth(d[k:]))
}

func largestPow2Below(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// consistency is PROOF(m, D[n]) of RFC 6962 §2.1.2.
func consistency(m int, d [][]byte) [][]byte {
	if m <= 0 || m >= len(d) {
		return nil
	}
	return subproof(m, d, true)
}

func subproof(m int, d [][]byte, complete bool) [][]byte {
	if m == len(d) {
		if complete {
			return nil
		}
		return [][]byte{mth(d)}
	}
	k := largestPow2Below(len(d))
	if m <= k {
		return append(subproof(m, d[:k], complete), mth(d[k:]))
	}
	return append(subproof(m-k, d[k:], false), mth(d[:k]))
}
