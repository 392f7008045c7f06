package fabric

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
)

func writeNetworkFile(t *testing.T, orgs int) string {
	t.Helper()
	dir := t.TempDir()
	type org struct {
		MspID string `json:"mspId"`
		Peer  struct {
			Address    string `json:"address"`
			ServerName string `json:"serverName"`
			TLSCACert  string `json:"tlsCACert"`
		} `json:"peer"`
		Client struct {
			CertFile string `json:"certFile"`
			KeyFile  string `json:"keyFile"`
		} `json:"client"`
	}
	nw := struct {
		Channel       string `json:"channel"`
		Chaincode     string `json:"chaincode"`
		Organizations []org  `json:"organizations"`
	}{Channel: "gxaudit", Chaincode: "gxanchor"}
	for i := range orgs {
		var o org
		o.MspID = []string{"Dept1MSP", "Dept2MSP", "Dept3MSP"}[i]
		o.Peer.Address = "127.0.0.1:1706" + string(rune('0'+i))
		o.Peer.ServerName = "127.0.0.1"
		o.Peer.TLSCACert = filepath.Join(dir, o.MspID+"-ca.crt")
		o.Client.CertFile = filepath.Join(dir, o.MspID+"-cert.pem")
		o.Client.KeyFile = filepath.Join(dir, o.MspID+"-key")
		nw.Organizations = append(nw.Organizations, o)
	}
	raw, err := json.Marshal(nw)
	require.NoError(t, err)
	p := filepath.Join(dir, "network.json")
	require.NoError(t, os.WriteFile(p, raw, 0o600))
	return p
}

func TestConfigResolve(t *testing.T) {
	pub := &ledgertest.Key(t, "log").PublicKey
	file := writeNetworkFile(t, 3)
	t.Run("network file, default organisation", func(t *testing.T) {
		c, err := Config{NetworkFile: file, LogID: "gxhub/audit", LogPublicKey: pub}.resolve()
		require.NoError(t, err)
		require.Equal(t, "Dept1MSP", c.MSPID)
		require.Equal(t, "127.0.0.1:17060", c.Gateway.Address)
		require.Equal(t, filepath.Join(filepath.Dir(file), "Dept1MSP-cert.pem"), c.CertFile)
		require.Len(t, c.OtherPeers, 2)
		require.Equal(t, "Dept2MSP", c.OtherPeers[0].MSPID)
		require.Equal(t, "gxaudit", c.Channel)
		require.Equal(t, 30*time.Second, c.CommitWait)
	})
	t.Run("network file, chosen organisation", func(t *testing.T) {
		c, err := Config{NetworkFile: file, MSPID: "Dept2MSP", LogID: "gxhub/audit", LogPublicKey: pub}.resolve()
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:17061", c.Gateway.Address)
		require.Equal(t, []string{"Dept1MSP", "Dept3MSP"}, []string{c.OtherPeers[0].MSPID, c.OtherPeers[1].MSPID})
	})
	bad := map[string]Config{
		"unknown organisation": {NetworkFile: file, MSPID: "Dept9MSP", LogID: "gxhub/audit", LogPublicKey: pub},
		"no log id":            {NetworkFile: file, LogPublicKey: pub},
		"log id with a space":  {NetworkFile: file, LogID: "gxhub audit", LogPublicKey: pub},
		"no log key":           {NetworkFile: file, LogID: "gxhub/audit"},
		"no peer, no identity": {LogID: "gxhub/audit", LogPublicKey: pub},
	}
	for name, c := range bad {
		t.Run("invalid/"+name, func(t *testing.T) {
			_, err := c.resolve()
			require.ErrorIs(t, err, ledger.ErrInvalid)
		})
	}
	t.Run("invalid/missing network file", func(t *testing.T) {
		_, err := Config{NetworkFile: filepath.Join(t.TempDir(), "none.json"), LogID: "x", LogPublicKey: pub}.resolve()
		require.ErrorContains(t, err, "testnet/up.sh")
	})
	t.Run("New fails on missing identity files", func(t *testing.T) {
		_, err := New(context.Background(), Config{NetworkFile: file, LogID: "gxhub/audit", LogPublicKey: pub})
		require.ErrorContains(t, err, "client certificate")
	})
}

func TestRef(t *testing.T) {
	ch, tx, err := ParseRef(Ref("gxaudit", "abc123"))
	require.NoError(t, err)
	require.Equal(t, []string{"gxaudit", "abc123"}, []string{ch, tx})
	for _, bad := range []string{"", "fabric:gxaudit", "embedded:1:2", "fabric::tx", "fabric:a:b:c"} {
		_, _, err := ParseRef(bad)
		require.ErrorIs(t, err, ledger.ErrInvalid, bad)
	}
}

func TestRefusalTranslation(t *testing.T) {
	a := &Anchorer{cfg: Config{LogID: "gxhub/audit", Channel: "gxaudit"}}
	tests := []struct {
		msg  string
		want error
	}{
		{"GXANCHOR_NOT_FOUND: log \"x\" has no anchored head yet", ledger.ErrNotFound},
		{"GXANCHOR_UNKNOWN_LOG: log \"x\" is not registered", ledger.ErrNotFound},
		{"GXANCHOR_INCONSISTENT: not proven consistent", ledger.ErrInconsistent},
		{"GXANCHOR_STALE: older", ledger.ErrInconsistent},
		{"GXANCHOR_BAD_SIGNATURE: does not verify", ledger.ErrVerification},
		{"GXANCHOR_LOG_EXISTS: another key", ledger.ErrInvalid},
		{"GXANCHOR_INVALID: bad base64", ledger.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			st, err := status.New(codes.Aborted, "failed to endorse transaction, see attached details for more info").
				WithDetails(&gateway.ErrorDetail{Address: "127.0.0.1:17070", MspId: "Dept2MSP", Message: "chaincode response 500, " + tc.msg})
			require.NoError(t, err)
			gerr := st.Err()
			code := refusalCode(gerr)
			require.NotEmpty(t, code)
			out := a.refusal(code, "AnchorHead", "tx1", gerr)
			require.ErrorIs(t, out, tc.want)
			require.Contains(t, out.Error(), "tx1")
			require.Contains(t, out.Error(), tc.msg)
		})
	}
	t.Run("no refusal code in a transport error", func(t *testing.T) {
		require.Empty(t, refusalCode(status.Error(codes.Unavailable, "connection refused")))
		require.Empty(t, refusalCode(errors.New("no combination of peers can be derived")))
	})
}

func TestVerifyChain(t *testing.T) {
	ctx := context.Background()
	l, err := ledgerlog.New(ctx, memory.New(), ledgertest.Signer(t, "log"), ledgerlog.DefaultConfig("gxhub/audit"))
	require.NoError(t, err)
	defer func() { _ = l.Close(ctx) }()
	v := ledgertest.Verifier(t, "log")
	var chain []ledger.Anchor
	n := 0
	for _, k := range []int{2, 3, 0, 7} {
		for range k {
			_, err := l.Append(ctx, ledgertest.Record(n))
			require.NoError(t, err)
			n++
		}
		h, err := l.SignHead(ctx)
		require.NoError(t, err)
		a := ledger.Anchor{Height: uint64(len(chain) + 1), Time: time.Now(), Head: h, Ref: Ref("gxaudit", "t")}
		if len(chain) > 0 {
			a.Consistency, err = l.ConsistencyProof(ctx, chain[len(chain)-1].Head.Size, h.Size)
			require.NoError(t, err)
		}
		chain = append(chain, a)
	}
	require.NoError(t, VerifyChain(v, chain))
	require.NoError(t, VerifyChain(v, chain[1:]), "a segment verifies on its own")

	tamper := map[string]func(c []ledger.Anchor) []ledger.Anchor{
		"gap in heights":      func(c []ledger.Anchor) []ledger.Anchor { return append(c[:1], c[2:]...) },
		"altered root":        func(c []ledger.Anchor) []ledger.Anchor { c[3].Head.Root[0] ^= 1; return c },
		"dropped proof":       func(c []ledger.Anchor) []ledger.Anchor { c[3].Consistency = nil; return c },
		"proof at height one": func(c []ledger.Anchor) []ledger.Anchor { c[0].Consistency = c[1].Consistency; return c },
		"other signer": func(c []ledger.Anchor) []ledger.Anchor {
			c[1].Head.KeyID = ledgertest.Signer(t, "other").KeyID()
			return c
		},
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			c := make([]ledger.Anchor, len(chain))
			for i, a := range chain {
				a.Head.Root = append([]byte(nil), a.Head.Root...)
				c[i] = a
			}
			var ce *ledger.ChainError
			require.ErrorAs(t, VerifyChain(v, f(c)), &ce)
		})
	}
}

func TestBackoff(t *testing.T) {
	require.Equal(t, 200*time.Millisecond, backoff(1))
	require.Equal(t, 800*time.Millisecond, backoff(3))
	require.Equal(t, 3*time.Second, backoff(10))
}
