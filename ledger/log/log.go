// Package log is the Merkle log of audit records (C2) over a
// [ledger.Storage]: group-committed appends, RFC 6962 tree state with SM3,
// periodic SM2-signed tree heads, inclusion and consistency proofs, and a
// helper that anchors the latest head on a [ledger.Anchorer].
//
// # Group commit
//
// Append hands its record to a single committer goroutine and waits. The
// committer takes the first waiting record, keeps collecting for at most
// Config.CommitWindow or until Config.MaxBatch records, then writes the batch
// — leaves and every tree node they complete — with ONE
// [ledger.LeafStorage.AppendLeaves] call. Only when that call returns nil are
// the callers told their indices; if it fails, every caller of the batch gets
// the error and the in-memory tree state is left as it was. A caller thus
// waits at most one commit window plus one storage write (plus the write in
// progress, if any).
//
// # Proofs
//
// Every perfect subtree hash is stored when it is completed (about 2N hashes
// for N leaves), so a proof costs one ReadNodes call of at most 2·log2(N)
// hashes and at most log2(N) SM3 operations to fold the one ephemeral node;
// no leaves are re-hashed. Node IDs come from transparency-dev/merkle's proof
// package, roots from its compact ranges. The alternative, recomputing
// subtree hashes from leaves, costs O(N) hashing per proof in the worst case
// and was rejected (see BenchmarkInclusionProof).
//
// Several Logs (hub replicas) may share one Storage: appends claim their index
// range with a compare-and-set on the stored size, so when the Storage reports
// [ledger.ErrConflict] (another writer appended first) nothing was written, the
// log catches up with the stored tree and commits the batch again after it,
// for as long as the other writers keep moving the log forward and at most
// Config.CommitTimeout (a count of retries starved a replica that kept losing
// to two others). Reads of records, proofs and heads beyond
// what this Log has seen catch up with the storage first, so every replica
// serves the one shared log.
package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm3hash"
)

// Config configures a [Log].
type Config struct {
	// LogID names the log in its tree heads. Required.
	LogID string
	// CommitWindow is how long the committer waits for more records after
	// the first one of a batch. Zero means no waiting: a batch holds what
	// queued up while the previous write ran. Default 1ms (see BenchmarkAppend).
	CommitWindow time.Duration
	// MaxBatch caps the records of one storage write. Default 1024.
	MaxBatch int
	// CommitTimeout bounds one storage write. Default 10s.
	CommitTimeout time.Duration
	// HeadInterval is how often a new signed tree head is published when
	// the log has grown. Zero disables the periodic publisher (call
	// [Log.SignHead] yourself). Default 0.
	HeadInterval time.Duration
	// Anchorer, if set, receives each head the periodic publisher signs
	// (see [Log.AnchorLatest]). Anchoring failures are logged, not fatal.
	Anchorer ledger.Anchorer
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Attribute, if set, is called by Append before a record is encoded,
	// with the appender's context: it may complete the record from what the
	// context carries (the hub binds each record to the authenticated
	// requester and its signed request) or fail the append.
	Attribute func(ctx context.Context, r *ledger.Record) error
}

// DefaultConfig returns the defaults for logID.
func DefaultConfig(logID string) Config {
	return Config{LogID: logID, CommitWindow: time.Millisecond, MaxBatch: 1024, CommitTimeout: 10 * time.Second}
}

// Validate reports whether c is usable. The error wraps [ledger.ErrInvalid].
func (c *Config) Validate() error {
	h := ledger.TreeHead{LogID: c.LogID, Root: make([]byte, ledger.DigestSize), Time: time.Unix(1, 0)}
	if err := h.Validate(); err != nil {
		return fmt.Errorf("log config: %w", err)
	}
	if c.CommitWindow < 0 || c.MaxBatch < 0 || c.CommitTimeout < 0 || c.HeadInterval < 0 {
		return fmt.Errorf("%w: log config: negative durations or batch size", ledger.ErrInvalid)
	}
	return nil
}

func (c *Config) defaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Log is a group-committed Merkle log. It implements [ledger.Log]. Create it
// with [New] and stop it with [Log.Close].
type Log struct {
	cfg     Config
	storage ledger.Storage
	signer  ledger.Signer
	hasher  sm3hash.Hasher
	rf      *compact.RangeFactory

	reqs    chan *appendReq
	closeMu sync.RWMutex
	closed  bool
	done    chan struct{} // committer exited
	quit    chan struct{} // stops the head publisher
	pubDone chan struct{}

	mu   sync.RWMutex // guards rng and size
	rng  *compact.Range
	size uint64

	headMu sync.Mutex // serialises SignHead
}

var _ ledger.Log = (*Log)(nil)

type appendReq struct {
	ctx  context.Context
	leaf []byte
	hash []byte
	res  chan appendRes
}

type appendRes struct {
	index uint64
	err   error
}

// New opens the log kept in storage, checks the stored tree against the
// latest stored head, and starts the committer (and, if
// cfg.HeadInterval > 0, the head publisher). signer signs tree heads.
func New(ctx context.Context, storage ledger.Storage, signer ledger.Signer, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if storage == nil || signer == nil {
		return nil, fmt.Errorf("%w: log needs a storage and a signer", ledger.ErrInvalid)
	}
	cfg.defaults()
	l := &Log{
		cfg: cfg, storage: storage, signer: signer,
		rf:      &compact.RangeFactory{Hash: sm3hash.Default.HashChildren},
		reqs:    make(chan *appendReq, cfg.MaxBatch),
		done:    make(chan struct{}),
		quit:    make(chan struct{}),
		pubDone: make(chan struct{}),
	}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	if err := l.checkLatestHead(ctx); err != nil {
		return nil, err
	}
	go l.commitLoop()
	if cfg.HeadInterval > 0 {
		go l.publishLoop()
	} else {
		close(l.pubDone)
	}
	return l, nil
}

// load rebuilds the compact range of the stored tree.
func (l *Log) load(ctx context.Context) error {
	size, err := l.storage.Size(ctx)
	if err != nil {
		return fmt.Errorf("open log: read size: %w", err)
	}
	rng, err := l.rangeAt(ctx, size)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	l.mu.Lock()
	l.rng, l.size = rng, size
	l.mu.Unlock()
	return nil
}

// refresh catches up with appends other writers made to the shared storage.
// It only moves the log forward, so it is safe next to the committer.
func (l *Log) refresh(ctx context.Context) error {
	size, err := l.storage.Size(ctx)
	if err != nil {
		return fmt.Errorf("read log size: %w", err)
	}
	if size <= l.Size() {
		return nil
	}
	rng, err := l.rangeAt(ctx, size)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if size > l.size {
		l.rng, l.size = rng, size
	}
	l.mu.Unlock()
	return nil
}

func (l *Log) rangeAt(ctx context.Context, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := l.storage.ReadNodes(ctx, toLedgerIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("read the %d subtree hashes of size %d: %w", len(ids), size, err)
	}
	return l.rf.NewRange(0, size, hashes)
}

func (l *Log) checkLatestHead(ctx context.Context) error {
	h, err := l.storage.LatestHead(ctx)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open log: read latest head: %w", err)
	}
	if h.LogID != l.cfg.LogID {
		return fmt.Errorf("%w: storage holds log %q, configured log id is %q", ledger.ErrInvalid, h.LogID, l.cfg.LogID)
	}
	if h.Size > l.size {
		return &ledger.ProofError{Kind: "root", Size: h.Size, Err: fmt.Errorf("latest signed head has %d leaves but storage only %d: leaves were removed", h.Size, l.size)}
	}
	rng, err := l.rangeAt(ctx, h.Size)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	if root := l.rootOf(rng); !bytes.Equal(root, h.Root) {
		return &ledger.ProofError{Kind: "root", Size: h.Size, Err: fmt.Errorf("stored tree root %x differs from the signed head's %x", root, h.Root)}
	}
	return nil
}

func (l *Log) rootOf(r *compact.Range) []byte {
	if r.End() == 0 {
		return l.hasher.EmptyRoot()
	}
	root, err := r.GetRootHash(nil)
	if err != nil { // cannot happen for a range starting at 0
		return nil
	}
	return root
}

// Size returns the number of committed records.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Append implements [ledger.Log]. See the package documentation for the
// group-commit guarantees.
func (l *Log) Append(ctx context.Context, r ledger.Record) (uint64, error) {
	if l.cfg.Attribute != nil {
		if err := l.cfg.Attribute(ctx, &r); err != nil {
			return 0, fmt.Errorf("append: record not written: %w", err)
		}
	}
	leaf, err := r.MarshalBinary()
	if err != nil {
		return 0, err
	}
	req := &appendReq{ctx: ctx, leaf: leaf, hash: l.hasher.HashLeaf(leaf), res: make(chan appendRes, 1)}
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return 0, fmt.Errorf("append: %w", ledger.ErrClosed)
	}
	select {
	case l.reqs <- req:
		l.closeMu.RUnlock()
	case <-ctx.Done():
		l.closeMu.RUnlock()
		return 0, fmt.Errorf("append: record not written: %w", ctx.Err())
	}
	select {
	case res := <-req.res:
		return res.index, res.err
	case <-ctx.Done():
		return 0, fmt.Errorf("append: gave up waiting for the commit; the record may still be committed: %w", ctx.Err())
	}
}

func (l *Log) commitLoop() {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-l.reqs
		if !ok {
			return
		}
		batch := []*appendReq{first}
		open := true
		if l.cfg.CommitWindow > 0 {
			timer.Reset(l.cfg.CommitWindow)
		collect:
			for len(batch) < l.cfg.MaxBatch {
				select {
				case r, ok := <-l.reqs:
					if !ok {
						open = false
						break collect
					}
					batch = append(batch, r)
				case <-timer.C:
					break collect
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		} else {
		drain:
			for len(batch) < l.cfg.MaxBatch {
				select {
				case r, ok := <-l.reqs:
					if !ok {
						open = false
						break drain
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
		}
		l.commit(batch)
		if !open {
			return
		}
	}
}

// commit writes one batch. Only the committer goroutine calls it, so it may
// read l.rng and l.size without the lock; it writes them under the lock.
func (l *Log) commit(batch []*appendReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- appendRes{err: fmt.Errorf("append: record not written: %w", err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	leaves := make([][]byte, len(live))
	for i, r := range live {
		leaves[i] = r.leaf
	}
	// Conflicts are retried until this deadline, each time after catching up with what
	// the other writers appended.
	deadline := time.Now().Add(l.cfg.CommitTimeout)
	for {
		l.mu.RLock()
		start, hashes := l.size, cloneHashes(l.rng.Hashes())
		l.mu.RUnlock()
		rng, err := l.rf.NewRange(0, start, hashes)
		if err != nil {
			l.fail(live, start, err)
			return
		}
		nodes := make([]ledger.Node, 0, 2*len(live)+1)
		visit := func(id compact.NodeID, hash []byte) {
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: uint8(id.Level), Index: id.Index}, Hash: hash})
		}
		for _, r := range live {
			if err := rng.Append(r.hash, visit); err != nil {
				l.fail(live, start, err)
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CommitTimeout)
		err = l.storage.AppendLeaves(ctx, start, leaves, nodes)
		if err != nil && errors.Is(err, ledger.ErrConflict) && time.Now().Before(deadline) {
			// Another writer of the shared storage appended first and nothing of this
			// batch was written: catch up with its tree and commit after it. A conflict
			// the stored tree does not explain (it did not grow past start) is not
			// retried: committing again would meet it again.
			cancel()
			rctx, rcancel := context.WithDeadline(context.Background(), deadline)
			rerr := l.refresh(rctx)
			rcancel()
			if rerr == nil && l.Size() > start {
				continue
			}
			if rerr != nil {
				l.cfg.Logger.Error("ledger log: catching up after a conflicting append failed", slog.Any("error", rerr))
			}
		} else {
			cancel()
		}
		if err != nil {
			l.fail(live, start, err)
			if errors.Is(err, ledger.ErrConflict) {
				if lerr := l.load(context.Background()); lerr != nil {
					l.cfg.Logger.Error("ledger log: reload after conflicting append failed", slog.Any("error", lerr))
				}
			}
			return
		}
		l.mu.Lock()
		if end := start + uint64(len(live)); end > l.size {
			l.rng, l.size = rng, end
		}
		l.mu.Unlock()
		for i, r := range live {
			r.res <- appendRes{index: start + uint64(i)}
		}
		return
	}
}

func (l *Log) fail(batch []*appendReq, start uint64, err error) {
	err = fmt.Errorf("append: commit of %d records at index %d failed, none was written: %w", len(batch), start, err)
	l.cfg.Logger.Warn("ledger log: group commit failed", slog.Int("records", len(batch)), slog.Uint64("start", start), slog.Any("error", err))
	for _, r := range batch {
		r.res <- appendRes{err: err}
	}
}

// GetRecord implements [ledger.Log]. It also checks the stored leaf against
// its stored leaf hash and fails with a [*ledger.ProofError] if they differ.
func (l *Log) GetRecord(ctx context.Context, index uint64) (ledger.Entry, error) {
	if index >= l.Size() {
		if err := l.refresh(ctx); err != nil {
			return ledger.Entry{}, fmt.Errorf("get record %d: %w", index, err)
		}
	}
	if size := l.Size(); index >= size {
		return ledger.Entry{}, fmt.Errorf("%w: record %d (the log has %d records)", ledger.ErrNotFound, index, size)
	}
	leaves, err := l.storage.ReadLeaves(ctx, index, 1)
	if err != nil {
		return ledger.Entry{}, fmt.Errorf("read record %d: %w", index, err)
	}
	hashes, err := l.storage.ReadNodes(ctx, []ledger.NodeID{{Level: 0, Index: index}})
	if err != nil {
		return ledger.Entry{}, fmt.Errorf("read leaf hash %d: %w", index, err)
	}
	if !bytes.Equal(l.hasher.HashLeaf(leaves[0]), hashes[0]) {
		return ledger.Entry{}, &ledger.ProofError{Kind: "leaf", Index: index, Size: l.Size(), Err: errors.New("stored record does not match its stored leaf hash")}
	}
	if err := l.inTree(ctx, index, hashes[0]); err != nil {
		return ledger.Entry{}, err
	}
	e := ledger.Entry{Index: index, Leaf: leaves[0]}
	if err := e.Record.UnmarshalBinary(leaves[0]); err != nil {
		return ledger.Entry{}, &ledger.ProofError{Kind: "leaf", Index: index, Size: l.Size(), Err: err}
	}
	return e, nil
}

// CheckLeaves checks leaves read elsewhere (a search's copy of the leaf rows) against the
// tree, as GetRecord does for one record, with one read of every node involved: each leaf
// must hash to its stored leaf hash, and that hash must prove against the root of the log
// as this process holds it. It returns the indices that fail (beyond the log's size: not
// checked). Searches use it to flag altered records instead of serving them as logged.
func (l *Log) CheckLeaves(ctx context.Context, entries []ledger.Entry) ([]uint64, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	l.mu.RLock()
	size, root := l.size, l.rootOf(l.rng)
	l.mu.RUnlock()
	var ids []ledger.NodeID
	at := map[ledger.NodeID]int{}
	want := func(id ledger.NodeID) {
		if _, ok := at[id]; !ok {
			at[id] = len(ids)
			ids = append(ids, id)
		}
	}
	proofs := make([]proof.Nodes, len(entries))
	for i, e := range entries {
		if e.Index >= size {
			continue
		}
		want(ledger.NodeID{Level: 0, Index: e.Index})
		nodes, err := proof.Inclusion(e.Index, size)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ledger.ErrInvalid, err)
		}
		proofs[i] = nodes
		for _, id := range toLedgerIDs(nodes.IDs) {
			want(id)
		}
	}
	hashes, err := l.storage.ReadNodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read the tree nodes of %d records: %w", len(entries), err)
	}
	var bad []uint64
	for i, e := range entries {
		if e.Index >= size {
			continue
		}
		h := l.hasher.HashLeaf(e.Leaf)
		if !bytes.Equal(h, hashes[at[ledger.NodeID{Level: 0, Index: e.Index}]]) {
			bad = append(bad, e.Index)
			continue
		}
		ph := make([][]byte, len(proofs[i].IDs))
		for j, id := range toLedgerIDs(proofs[i].IDs) {
			ph[j] = hashes[at[id]]
		}
		p, err := proofs[i].Rehash(ph, l.hasher.HashChildren)
		if err != nil || proof.VerifyInclusion(l.hasher, e.Index, size, h, p, root) != nil {
			bad = append(bad, e.Index)
		}
	}
	return bad, nil
}

// inTree proves the leaf hash at index against the root of the log as this process holds
// it (the compact range loaded at open and extended by every commit since), so that a
// leaf rewritten in storage together with its stored leaf hash is caught too.
func (l *Log) inTree(ctx context.Context, index uint64, leafHash []byte) error {
	l.mu.RLock()
	size, root := l.size, l.rootOf(l.rng)
	l.mu.RUnlock()
	p, err := l.InclusionProof(ctx, index, size)
	if err != nil {
		return fmt.Errorf("prove record %d: %w", index, err)
	}
	if err := proof.VerifyInclusion(l.hasher, index, size, leafHash, p, root); err != nil {
		return &ledger.ProofError{Kind: "leaf", Index: index, Size: size, Err: fmt.Errorf("stored leaf hash is not in the log's tree: %w", err)}
	}
	return nil
}

// Head implements [ledger.Log]: the latest stored signed head.
func (l *Log) Head(ctx context.Context) (ledger.SignedTreeHead, error) {
	return l.storage.LatestHead(ctx)
}

// CurrentHead returns the unsigned head of everything committed so far,
// timed now (UTC, truncated to the microsecond so that SQL stores keep it
// exactly).
func (l *Log) CurrentHead() ledger.TreeHead {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return ledger.TreeHead{LogID: l.cfg.LogID, Size: l.size, Root: l.rootOf(l.rng), Time: l.cfg.Now().UTC().Truncate(time.Microsecond)}
}

// SignHead signs and stores a head of everything committed so far (by any
// writer of the storage), unless
// the latest stored head already has that size, in which case that head is
// returned.
func (l *Log) SignHead(ctx context.Context) (ledger.SignedTreeHead, error) {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	// Other writers of a shared storage may have appended: sign the stored tree.
	if err := l.refresh(ctx); err != nil {
		return ledger.SignedTreeHead{}, fmt.Errorf("sign head: %w", err)
	}
	cur := l.CurrentHead()
	latest, err := l.storage.LatestHead(ctx)
	switch {
	case err == nil && latest.Size == cur.Size:
		return latest, nil
	case err == nil && latest.Size > cur.Size:
		return ledger.SignedTreeHead{}, fmt.Errorf("%w: stored head has %d leaves, the log %d", ledger.ErrConflict, latest.Size, cur.Size)
	case err != nil && !errors.Is(err, ledger.ErrNotFound):
		return ledger.SignedTreeHead{}, fmt.Errorf("sign head: read latest head: %w", err)
	}
	msg, err := cur.SignedBytes()
	if err != nil {
		return ledger.SignedTreeHead{}, err
	}
	sig, err := l.signer.Sign(ctx, msg)
	if err != nil {
		return ledger.SignedTreeHead{}, fmt.Errorf("sign head of size %d: %w", cur.Size, err)
	}
	sth := ledger.SignedTreeHead{TreeHead: cur, KeyID: l.signer.KeyID(), Signature: sig}
	if err := l.storage.PutHead(ctx, sth); err != nil {
		// Another writer of the shared storage stored its head of this size first: if it
		// signs the same tree, it is the head.
		if errors.Is(err, ledger.ErrConflict) {
			if other, gerr := l.storage.GetHead(ctx, cur.Size); gerr == nil && ledger.SameHead(other.TreeHead, cur) {
				return other, nil
			}
		}
		return ledger.SignedTreeHead{}, fmt.Errorf("store head of size %d: %w", cur.Size, err)
	}
	return sth, nil
}

// AnchorLatest anchors the latest signed head on a, with the consistency
// proof from a's latest anchored head. It returns the existing anchor if
// that head is already anchored, and retries once on [ledger.ErrConflict].
func (l *Log) AnchorLatest(ctx context.Context, a ledger.Anchorer) (ledger.Anchor, error) {
	head, err := l.Head(ctx)
	if err != nil {
		return ledger.Anchor{}, fmt.Errorf("anchor: %w", err)
	}
	var lastErr error
	for range 2 {
		var prf [][]byte
		last, err := a.Latest(ctx)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
		case err != nil:
			return ledger.Anchor{}, fmt.Errorf("anchor: read latest anchor: %w", err)
		case last.Head.Size > head.Size:
			return ledger.Anchor{}, fmt.Errorf("%w: anchored head has %d leaves, the log's latest head %d", ledger.ErrInconsistent, last.Head.Size, head.Size)
		default:
			if prf, err = l.ConsistencyProof(ctx, last.Head.Size, head.Size); err != nil {
				return ledger.Anchor{}, fmt.Errorf("anchor: %w", err)
			}
		}
		anc, err := a.Anchor(ctx, head, prf)
		if err == nil || !errors.Is(err, ledger.ErrConflict) {
			return anc, err
		}
		lastErr = err
	}
	return ledger.Anchor{}, lastErr
}

func (l *Log) publishLoop() {
	defer close(l.pubDone)
	t := time.NewTicker(l.cfg.HeadInterval)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.cfg.HeadInterval)
			l.publish(ctx)
			cancel()
		}
	}
}

func (l *Log) publish(ctx context.Context) {
	sth, err := l.SignHead(ctx)
	if err != nil {
		l.cfg.Logger.Error("ledger log: publishing a signed tree head failed", slog.Any("error", err))
		return
	}
	if l.cfg.Anchorer == nil {
		return
	}
	if anc, err := l.cfg.Anchorer.Latest(ctx); err == nil && ledger.SameHead(anc.Head.TreeHead, sth.TreeHead) {
		return
	}
	if _, err := l.AnchorLatest(ctx, l.cfg.Anchorer); err != nil {
		l.cfg.Logger.Error("ledger log: anchoring the tree head failed; will retry at the next interval",
			slog.Uint64("size", sth.Size), slog.Any("error", err))
	}
}

// InclusionProof implements [ledger.Log].
func (l *Log) InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error) {
	if index >= treeSize {
		return nil, fmt.Errorf("%w: inclusion proof for index %d in a tree of size %d; the index must be below the size", ledger.ErrInvalid, index, treeSize)
	}
	if treeSize > l.Size() {
		if err := l.refresh(ctx); err != nil {
			return nil, fmt.Errorf("proof: %w", err)
		}
	}
	if size := l.Size(); treeSize > size {
		return nil, fmt.Errorf("%w: tree size %d (the log has %d records)", ledger.ErrNotFound, treeSize, size)
	}
	nodes, err := proof.Inclusion(index, treeSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ledger.ErrInvalid, err)
	}
	return l.fetch(ctx, nodes)
}

// ConsistencyProof implements [ledger.Log].
func (l *Log) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 {
		return nil, fmt.Errorf("%w: consistency proof from size %d to %d; the first size must not exceed the second", ledger.ErrInvalid, size1, size2)
	}
	if size2 > l.Size() {
		if err := l.refresh(ctx); err != nil {
			return nil, fmt.Errorf("proof: %w", err)
		}
	}
	if size := l.Size(); size2 > size {
		return nil, fmt.Errorf("%w: tree size %d (the log has %d records)", ledger.ErrNotFound, size2, size)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ledger.ErrInvalid, err)
	}
	return l.fetch(ctx, nodes)
}

func (l *Log) fetch(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	if len(nodes.IDs) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := l.storage.ReadNodes(ctx, toLedgerIDs(nodes.IDs))
	if err != nil {
		return nil, fmt.Errorf("read proof nodes: %w", err)
	}
	return nodes.Rehash(hashes, l.hasher.HashChildren)
}

// Close stops accepting appends, commits what is queued, stops the head
// publisher and waits for both, or until ctx is done. It does not close the
// storage.
func (l *Log) Close(ctx context.Context) error {
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		close(l.reqs)
		close(l.quit)
	}
	l.closeMu.Unlock()
	for _, ch := range []chan struct{}{l.done, l.pubDone} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("close log: %w", ctx.Err())
		}
	}
	return nil
}

func toLedgerIDs(ids []compact.NodeID) []ledger.NodeID {
	out := make([]ledger.NodeID, len(ids))
	for i, id := range ids {
		out[i] = ledger.NodeID{Level: uint8(id.Level), Index: id.Index}
	}
	return out
}

func cloneHashes(h [][]byte) [][]byte {
	out := make([][]byte, len(h))
	copy(out, h)
	return out
}
