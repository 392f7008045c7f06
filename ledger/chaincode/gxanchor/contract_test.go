package gxanchor

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// memStub is an in-process chaincode stub: a map as world state plus the transaction
// fields the contract reads. It implements the methods contractapi and the contract call;
// the embedded interface is nil, so any other method panics (and fails the test).
type memStub struct {
	shim.ChaincodeStubInterface
	state  memState
	args   []string
	txID   string
	events map[string][]byte
}

func (m *memStub) GetFunctionAndParameters() (string, []string) { return m.args[0], m.args[1:] }
func (m *memStub) GetCreator() ([]byte, error)                  { return nil, errors.New("no creator in unit tests") }
func (m *memStub) GetState(k string) ([]byte, error)            { return m.state.GetState(k) }
func (m *memStub) PutState(k string, v []byte) error            { return m.state.PutState(k, v) }
func (m *memStub) GetTxID() string                              { return m.txID }
func (m *memStub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	return timestamppb.New(time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)), nil
}
func (m *memStub) SetEvent(name string, payload []byte) error {
	m.events[name] = payload
	return nil
}

// TestChaincodeInvoke drives the contract through contractapi's Invoke, as the peer does,
// so argument parsing (uint64, int64, JSON string arrays) and result encoding are covered.
func TestChaincodeInvoke(t *testing.T) {
	cc, err := contractapi.NewChaincode(New())
	require.NoError(t, err)
	s := newSigner(t)
	d := leaves(9, "cc")
	state := memState{}
	invoke := func(t *testing.T, args ...string) (int32, string, *memStub) {
		t.Helper()
		stub := &memStub{state: state, args: args, txID: "tx-" + args[0], events: map[string][]byte{}}
		r := cc.Invoke(stub)
		if r.Status != shim.OK {
			return r.Status, r.Message, stub
		}
		return r.Status, string(r.Payload), stub
	}
	proofJSON := func(p []string) string {
		b, err := json.Marshal(p)
		require.NoError(t, err)
		return string(b)
	}
	anchorArgs := func(h Head, p []string) []string {
		return []string{"AnchorHead", h.LogID, strconv.FormatUint(h.Size, 10), h.RootHash, strconv.FormatInt(h.Time, 10), h.Signature, proofJSON(p)}
	}

	status, msg, _ := invoke(t, "InitLog", "L", s.pubPEM)
	require.Equal(t, int32(shim.OK), status, msg)

	h3 := s.head(t, "L", d[:3])
	status, msg, stub := invoke(t, anchorArgs(h3, []string{})...)
	require.Equal(t, int32(shim.OK), status, msg)
	var a AnchoredHead
	require.NoError(t, json.Unmarshal([]byte(msg), &a))
	require.Equal(t, h3, a.Head())
	require.Equal(t, "tx-AnchorHead", a.TxID)
	require.JSONEq(t, msg, string(stub.events[EventHeadAnchored]))

	h9 := s.head(t, "L", d[:9])
	status, msg, _ = invoke(t, anchorArgs(h9, b64Proof(refConsistency(3, d[:9])))...)
	require.Equal(t, int32(shim.OK), status, msg)

	status, msg, stub = invoke(t, anchorArgs(h9, []string{})...)
	require.Equal(t, int32(shim.OK), status, "a resubmitted head is accepted: %s", msg)
	require.Empty(t, stub.events, "a resubmitted head emits no event")

	other := leaves(9, "other")
	status, msg, _ = invoke(t, anchorArgs(s.head(t, "L", other[:9]), []string{})...)
	require.Equal(t, int32(shim.ERROR), status)
	require.Contains(t, msg, ErrFork.Error())

	status, msg, _ = invoke(t, "LatestHead", "L")
	require.Equal(t, int32(shim.OK), status, msg)
	require.NoError(t, json.Unmarshal([]byte(msg), &a))
	require.Equal(t, h9, a.Head())

	status, msg, _ = invoke(t, "HeadAt", "L", "3")
	require.Equal(t, int32(shim.OK), status, msg)
	require.NoError(t, json.Unmarshal([]byte(msg), &a))
	require.Equal(t, h3, a.Head())

	status, msg, _ = invoke(t, "AnchorAt", "L", "2")
	require.Equal(t, int32(shim.OK), status, msg)
	require.NoError(t, json.Unmarshal([]byte(msg), &a))
	require.Equal(t, h9, a.Head())
	require.Equal(t, uint64(2), a.Height)

	status, msg, _ = invoke(t, "HeadAt", "L", "4")
	require.Equal(t, int32(shim.ERROR), status)
	require.Contains(t, msg, ErrNotFound.Error())

	status, msg, _ = invoke(t, "HeadAt", "L", "-1")
	require.Equal(t, int32(shim.ERROR), status, "a negative size must not parse as uint64: %s", msg)
}
