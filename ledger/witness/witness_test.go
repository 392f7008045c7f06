package witness_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	"github.com/gxhub/gxhub/ledger/log"
	"github.com/gxhub/gxhub/ledger/memory"
	"github.com/gxhub/gxhub/ledger/witness"
)

const origin = "gxhub.test/audit"

// memStore is an in-memory witness.Store (the hub's is SQL; this one is for the protocol).
type memStore struct {
	mu   sync.Mutex
	sigs map[uint64]map[string]witness.Signature
	cps  map[uint64]witness.Checkpoint
}

func newMemStore() *memStore {
	return &memStore{sigs: map[uint64]map[string]witness.Signature{}, cps: map[uint64]witness.Checkpoint{}}
}

func (m *memStore) PutCosignature(_ context.Context, c witness.Checkpoint, s witness.Signature) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sigs[c.Size] == nil {
		m.sigs[c.Size] = map[string]witness.Signature{}
	}
	m.sigs[c.Size][s.Name], m.cps[c.Size] = s, c
	return nil
}

func (m *memStore) WitnessSize(_ context.Context, w string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for size, s := range m.sigs {
		if _, ok := s[w]; ok && size > n {
			n = size
		}
	}
	return n, nil
}

func (m *memStore) Latest(context.Context) (witness.Checkpoint, []witness.Signature, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sizes []uint64
	for s := range m.sigs {
		sizes = append(sizes, s)
	}
	if len(sizes) == 0 {
		return witness.Checkpoint{}, nil, ledger.ErrNotFound
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] > sizes[j] })
	var out []witness.Signature
	for _, s := range m.sigs[sizes[0]] {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return m.cps[sizes[0]], out, nil
}

type fixture struct {
	logKey  *witness.Key
	hubSign *witness.Signer
	wKeys   []*witness.Key
	dirs    []string
	urls    []string
	refused chan witness.Refusal
}

func cosigner(t *testing.T, name string) (*witness.Signer, *witness.Key) {
	s := ledgertest.Signer(t, name)
	sg, err := witness.NewSigner(name, witness.TypeCosignature, s, s.Public())
	require.NoError(t, err)
	k, err := witness.NewKey(name, witness.TypeCosignature, s.Public())
	require.NoError(t, err)
	return sg, k
}

// newFixture starts n witnesses over HTTP, each with its own state directory.
func newFixture(t *testing.T, n int) *fixture {
	ls := ledgertest.Signer(t, ledgertest.LogKeyName)
	hubSign, err := witness.NewSigner(origin, witness.TypeCheckpoint, ls, ls.Public())
	require.NoError(t, err)
	logKey, err := witness.NewKey(origin, witness.TypeCheckpoint, ls.Public())
	require.NoError(t, err)
	f := &fixture{logKey: logKey, hubSign: hubSign, refused: make(chan witness.Refusal, 16)}
	for i := range n {
		name := []string{"auditor-office", "justice-bureau", "statistics-bureau"}[i]
		sg, k := cosigner(t, name)
		dir := t.TempDir()
		f.dirs, f.wKeys = append(f.dirs, dir), append(f.wKeys, k)
		f.urls = append(f.urls, f.start(t, sg, dir))
	}
	return f
}

func (f *fixture) start(t *testing.T, sg *witness.Signer, dir string) string {
	w, err := witness.New(sg, []*witness.Key{f.logKey}, dir, nil)
	require.NoError(t, err)
	w.OnRefusal = func(r witness.Refusal) { f.refused <- r }
	srv := httptest.NewServer(witness.Handler(w))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *fixture) collector(l *log.Log, st witness.Store) *witness.Collector {
	c := &witness.Collector{Signer: f.hubSign, Prover: l, Store: st}
	for i, k := range f.wKeys {
		c.Witnesses = append(c.Witnesses, witness.Remote{URL: f.urls[i], Key: k})
	}
	return c
}

func newLog(t *testing.T, seed, n int) *log.Log {
	ctx := context.Background()
	l, err := log.New(ctx, memory.New(), ledgertest.Signer(t, ledgertest.LogKeyName), log.DefaultConfig(origin))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(ctx) })
	grow(t, l, seed, n)
	return l
}

func grow(t *testing.T, l *log.Log, seed, n int) {
	for range n {
		_, err := l.Append(context.Background(), ledgertest.Record(seed+int(l.Size())))
		require.NoError(t, err)
	}
}

// TestWitnessCosignsExtensions: checkpoints of a growing log are cosigned by every witness,
// the cosigned note verifies offline with k of n, and a witness restarted from its state
// directory continues from the size it kept.
func TestWitnessCosignsExtensions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2)
	l := newLog(t, 0, 5)
	st := newMemStore()
	c := f.collector(l, st)
	for _, growBy := range []int{0, 7, 1, 30} {
		grow(t, l, 0, growBy)
		n, err := c.Cosign(ctx, l.CurrentHead())
		require.NoError(t, err)
		require.Equal(t, 2, n)
	}
	note, cp, err := c.Cosigned(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(43), cp.Size)
	got, names, err := witness.VerifyCosigned(note, f.logKey, f.wKeys, 2)
	require.NoError(t, err)
	require.Equal(t, cp.Size, got.Size)
	require.ElementsMatch(t, []string{"auditor-office", "justice-bureau"}, names)

	// A third witness that never cosigned: 2 of 3 pass, 3 of 3 fail.
	_, stranger := cosigner(t, "statistics-bureau")
	_, _, err = witness.VerifyCosigned(note, f.logKey, append(f.wKeys, stranger), 2)
	require.NoError(t, err)
	_, _, err = witness.VerifyCosigned(note, f.logKey, append(f.wKeys, stranger), 3)
	require.ErrorIs(t, err, witness.ErrThreshold)
	// The checkpoint signed by another key is not the log's.
	other, err := witness.NewKey(origin, witness.TypeCheckpoint, ledgertest.Signer(t, "not-the-log").Public())
	require.NoError(t, err)
	_, _, err = witness.VerifyCosigned(note, other, f.wKeys, 0)
	require.ErrorIs(t, err, ledger.ErrVerification)

	// Restart the first witness on its state directory: a fresh collector (no memory of
	// sizes) learns the size from the 409 and proves consistency from there.
	sg, _ := cosigner(t, "auditor-office")
	f.urls[0] = f.start(t, sg, f.dirs[0])
	grow(t, l, 0, 4)
	n, err := f.collector(l, newMemStore()).Cosign(ctx, l.CurrentHead())
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

// TestWitnessRefusesRollback: the hub's log loses its last records (the rollback attack);
// its new, smaller checkpoint — validly signed — is refused by every witness, which keeps
// the evidence, and so is a log regrown past the old size on different records (a fork).
func TestWitnessRefusesRollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	honest := newLog(t, 0, 20)
	st := newMemStore()
	_, err := f.collector(honest, st).Cosign(ctx, honest.CurrentHead())
	require.NoError(t, err)

	// The same first 12 records, then nothing: 8 records removed.
	rolled := newLog(t, 0, 12)
	_, err = f.collector(rolled, newMemStore()).Cosign(ctx, rolled.CurrentHead())
	var rb *witness.RollbackError
	require.ErrorAs(t, err, &rb, "a smaller log must not be cosigned")
	require.Equal(t, uint64(20), rb.WitnessSize)
	require.Equal(t, uint64(12), rb.LogSize)
	require.ErrorIs(t, err, ledger.ErrInconsistent)
	r := <-f.refused
	require.Equal(t, "rollback", r.Reason)
	ev, err := os.ReadFile(r.File)
	require.NoError(t, err)
	require.Contains(t, string(ev), "reason rollback")

	// Even with the hub's own record of the witness's size (it kept its table), the
	// collector refuses to offer a smaller log.
	_, err = f.collector(rolled, st).Cosign(ctx, rolled.CurrentHead())
	require.ErrorAs(t, err, &rb)

	// Regrown to 25 with other records after the cut: the consistency proof from 20 fails.
	grow(t, rolled, 1000, 13)
	_, err = f.collector(rolled, st).Cosign(ctx, rolled.CurrentHead())
	require.ErrorAs(t, err, &rb)
	require.ErrorIs(t, rb.Err, witness.ErrRefused)
	r = <-f.refused
	require.Equal(t, "inconsistent", r.Reason)

	// A same-size, other-root checkpoint is a fork.
	forked := newLog(t, 500, 20)
	_, err = f.collector(forked, st).Cosign(ctx, forked.CurrentHead())
	require.ErrorAs(t, err, &rb)
	r = <-f.refused
	require.Equal(t, "fork", r.Reason)

	// The witness's state is still the honest checkpoint of 20.
	files, err := filepath.Glob(filepath.Join(f.dirs[0], "refused", "*.txt"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	grow(t, honest, 0, 1)
	n, err := f.collector(honest, st).Cosign(ctx, honest.CurrentHead())
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestWitnessRejectsForeignCheckpoints: a checkpoint not signed by the log's key is
// refused (403) without touching the state; an unknown origin is 404.
func TestWitnessRejectsForeignCheckpoints(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	l := newLog(t, 0, 3)
	forger := ledgertest.Signer(t, "forger")
	fs, err := witness.NewSigner(origin, witness.TypeCheckpoint, forger, forger.Public())
	require.NoError(t, err)
	note, err := fs.SignCheckpoint(ctx, witness.FromHead(l.CurrentHead()))
	require.NoError(t, err)
	_, err = witness.Submit(ctx, nil, f.urls[0], 0, nil, note)
	require.ErrorIs(t, err, witness.ErrBadSignature)

	os2, err := witness.NewSigner("other.log", witness.TypeCheckpoint, forger, forger.Public())
	require.NoError(t, err)
	h := l.CurrentHead()
	h.LogID = "other.log"
	note, err = os2.SignCheckpoint(ctx, witness.FromHead(h))
	require.NoError(t, err)
	_, err = witness.Submit(ctx, nil, f.urls[0], 0, nil, note)
	require.ErrorIs(t, err, witness.ErrUnknownLog)

	// The honest checkpoint is still accepted from size 0: nothing was kept.
	n, err := f.collector(l, newMemStore()).Cosign(ctx, l.CurrentHead())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	select {
	case r := <-f.refused:
		t.Fatalf("unexpected refusal %+v", r)
	default:
	}
}

// TestCollectorRunRetries: the hub's background cosigning offers each new head and keeps
// offering it to a witness that is down until that witness cosigns, without new records.
func TestCollectorRunRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, 1)
	var up atomic.Bool
	sg, k := cosigner(t, "justice-bureau")
	w, err := witness.New(sg, []*witness.Key{f.logKey}, t.TempDir(), nil)
	require.NoError(t, err)
	h := witness.Handler(w)
	flaky := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(rw, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	defer flaky.Close()
	f.wKeys, f.urls = append(f.wKeys, k), append(f.urls, flaky.URL)

	l := newLog(t, 0, 9)
	st := newMemStore()
	c := f.collector(l, st)
	go c.Run(ctx, 5*time.Millisecond, l.SignHead)
	sizeOf := func(name string) uint64 {
		n, err := st.WitnessSize(ctx, name)
		require.NoError(t, err)
		return n
	}
	require.Eventually(t, func() bool { return sizeOf("auditor-office") == 9 }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, sizeOf("justice-bureau"), "the witness that is down cosigned nothing")
	up.Store(true)
	require.Eventually(t, func() bool { return sizeOf("justice-bureau") == 9 }, 10*time.Second, 5*time.Millisecond, "retried without new records")
	grow(t, l, 0, 3)
	require.Eventually(t, func() bool { return sizeOf("auditor-office") == 12 && sizeOf("justice-bureau") == 12 }, 10*time.Second, 5*time.Millisecond)
}
