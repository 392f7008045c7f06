// Package ledgertest holds the conformance suites every [ledger.Storage]
// and [ledger.Anchorer] implementation must pass — [RunStorage] and
// [RunAnchorer] — and helpers for tests of the ledger: deterministic SM2
// test keys and record generators.
//
// The in-memory storage (ledger/memory) and the embedded anchorer
// (ledger/embedded) run these suites in their own tests; the hub's SQLite
// and PostgreSQL stores and the Fabric anchorer run the same suites.
package ledgertest

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

// Key returns a deterministic SM2 key derived from name, for tests only
// (never use it outside tests: anyone can derive it).
func Key(t testing.TB, name string) *sm.PrivateKey {
	t.Helper()
	d := new(big.Int).SetBytes(sm3hash.Sum([]byte("gxhub ledgertest key " + name)))
	n := sm.Curve().Params().N
	d.Mod(d, new(big.Int).Sub(n, big.NewInt(2)))
	d.Add(d, big.NewInt(1))
	k, err := sm.NewPrivateKeyFromInt(d)
	require.NoError(t, err)
	return k
}

// Signer returns an SM2 signer over Key(t, name).
func Signer(t testing.TB, name string) *sm2sig.Signer {
	t.Helper()
	s, err := sm2sig.NewSigner(Key(t, name))
	require.NoError(t, err)
	return s
}

// Verifier returns the SM2 verifier matching Signer(t, name).
func Verifier(t testing.TB, name string) *sm2sig.Verifier {
	t.Helper()
	v, err := sm2sig.NewVerifier(&Key(t, name).PublicKey)
	require.NoError(t, err)
	return v
}

// LogKeyName is the name of the key the suites sign tree heads with:
// Verifier(t, LogKeyName) verifies them (e.g. for embedded.WithHeadVerifier).
const LogKeyName = "log"

// Record returns a valid, distinct audit record for index i.
func Record(i int) ledger.Record {
	r := ledger.Record{
		Kind:       ledger.KindPull,
		Time:       time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Department: fmt.Sprintf("dept-%02d", i%7),
		Operator:   fmt.Sprintf("op-%d", i%13),
		Resource:   fmt.Sprintf("res/%d", i%5),
		DataItems:  []string{"name", "id_number"},
		Matter:     "M-001",
		Case:       fmt.Sprintf("CASE-%06d", i),
		Outcome:    ledger.OutcomeGranted,
		RequestID:  fmt.Sprintf("req-%d", i),
	}
	r.Subject[0] = byte(i)
	r.Subject[1] = byte(i >> 8)
	r.Subject[2] = 1
	if i%3 == 0 {
		r.Outcome = ledger.OutcomeDenied
		r.Reason = "no approved requirement"
	}
	return r
}
