package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gxhub/gxhub/ledger"
)

// Remote is a witness the hub asks for cosignatures.
type Remote struct {
	// URL is the witness's base URL (add-checkpoint is under it).
	URL string
	// Key is the witness's cosigning key (its Name is the witness's name).
	Key *Key
}

// Store keeps the cosignatures a hub collected (durably, next to its log).
type Store interface {
	// PutCosignature records witness's cosignature of c.
	PutCosignature(ctx context.Context, c Checkpoint, sig Signature) error
	// WitnessSize is the largest size witness cosigned (0 if none).
	WitnessSize(ctx context.Context, witness string) (uint64, error)
	// Latest is the largest checkpoint with at least one cosignature and all its
	// cosignatures; ledger.ErrNotFound if none.
	Latest(ctx context.Context) (Checkpoint, []Signature, error)
}

// Prover gives consistency proofs of the log (ledger/log.Log).
type Prover interface {
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error)
}

// RollbackError: a witness has cosigned a larger log than the one offered, or refuses
// the offered checkpoint as not extending what it cosigned. The log was rolled back or
// forked; it must not be served.
type RollbackError struct {
	Witness     string
	WitnessSize uint64
	LogSize     uint64
	Err         error
}

func (e *RollbackError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("witness %s refuses the log's checkpoint of size %d as not extending what it cosigned (size %d): %v", e.Witness, e.LogSize, e.WitnessSize, e.Err)
	}
	return fmt.Sprintf("witness %s has cosigned %d records of this log, but the log holds only %d: records were removed (rolled back)", e.Witness, e.WitnessSize, e.LogSize)
}

func (e *RollbackError) Unwrap() error { return ledger.ErrInconsistent }

// Collector gets the hub's checkpoints cosigned by its witnesses.
type Collector struct {
	Signer    *Signer // the log's checkpoint key (TypeCheckpoint, named by the log id)
	Witnesses []Remote
	Prover    Prover
	Store     Store
	Client    *http.Client
	Logger    *slog.Logger
	// Timeout bounds each witness request (default 5 s).
	Timeout time.Duration

	mu     sync.Mutex
	signed []byte // the log's signed note of the latest cosigned checkpoint (cache)
	at     Checkpoint
}

// Cosign offers h's checkpoint to every witness and stores the cosignatures it gets. It
// returns the number of witnesses that cosigned and the errors of the others, joined; a
// *RollbackError among them means the log is behind or beside what a witness cosigned.
func (c *Collector) Cosign(ctx context.Context, h ledger.TreeHead) (int, error) {
	cp := FromHead(h)
	note, err := c.Signer.SignCheckpoint(ctx, cp)
	if err != nil {
		return 0, err
	}
	var errs []error
	ok := 0
	for _, w := range c.Witnesses {
		if err := c.cosignOne(ctx, w, cp, note); err != nil {
			errs = append(errs, fmt.Errorf("witness %s: %w", w.Key.Name, err))
			continue
		}
		ok++
	}
	return ok, errors.Join(errs...)
}

func (c *Collector) cosignOne(ctx context.Context, w Remote, cp Checkpoint, note []byte) error {
	old, err := c.Store.WitnessSize(ctx, w.Key.Name)
	if err != nil {
		return err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	for range 3 {
		if old > cp.Size {
			return &RollbackError{Witness: w.Key.Name, WitnessSize: old, LogSize: cp.Size}
		}
		var proof [][]byte
		if old > 0 && old < cp.Size {
			if proof, err = c.Prover.ConsistencyProof(ctx, old, cp.Size); err != nil {
				return fmt.Errorf("consistency proof %d→%d: %w", old, cp.Size, err)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		sig, err := Submit(rctx, c.Client, w.URL, old, proof, note)
		cancel()
		var se *SizeError
		switch {
		case errors.As(err, &se):
			if se.Size > cp.Size {
				return &RollbackError{Witness: w.Key.Name, WitnessSize: se.Size, LogSize: cp.Size}
			}
			old = se.Size
			continue
		case errors.Is(err, ErrRefused):
			return &RollbackError{Witness: w.Key.Name, WitnessSize: old, LogSize: cp.Size, Err: err}
		case err != nil:
			return err
		}
		if _, err := w.Key.Verify(cp.Body(), sig); err != nil {
			return fmt.Errorf("the witness's answer is not its cosignature: %w", err)
		}
		return c.Store.PutCosignature(ctx, cp, sig)
	}
	return fmt.Errorf("the witness's size kept changing; try again")
}

// CheckLog is the start-up check: the log (its current head h) must extend the latest
// cosigned checkpoint the hub holds, and no witness may hold a larger or different one.
// It returns a *RollbackError (or a consistency error from check) when the log must not
// be served; witnesses that cannot be reached are only logged.
func (c *Collector) CheckLog(ctx context.Context, h ledger.TreeHead, check func(ledger.TreeHead) error) error {
	latest, _, err := c.Store.Latest(ctx)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
	case err != nil:
		return fmt.Errorf("read the latest cosigned checkpoint: %w", err)
	default:
		if err := check(ledger.TreeHead{LogID: latest.Origin, Size: latest.Size, Root: latest.Root}); err != nil {
			return err
		}
	}
	n, err := c.Cosign(ctx, h)
	var rb *RollbackError
	if errors.As(err, &rb) {
		return err
	}
	if err != nil && c.Logger != nil {
		c.Logger.WarnContext(ctx, "audit witnesses: some could not be asked at start", slog.Int("cosigned", n), slog.Int("witnesses", len(c.Witnesses)), slog.String("error", err.Error()))
	}
	return nil
}

// Run offers the log's latest signed head (from head) to the witnesses every interval
// until ctx is done, until every witness has cosigned it; a witness that was down or slow
// gets the head again at the next tick. A refusal is logged as an error (the log was
// rolled back or forked behind the hub's back), other failures as warnings, each once
// until it changes.
func (c *Collector) Run(ctx context.Context, interval time.Duration, head func(context.Context) (ledger.SignedTreeHead, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var done ledger.TreeHead // the latest head every witness cosigned
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h, err := head(ctx)
		if err != nil || (done.LogID != "" && ledger.SameHead(done, h.TreeHead)) {
			continue
		}
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		cctx, cancel := context.WithTimeout(ctx, timeout*time.Duration(len(c.Witnesses)+1))
		n, err := c.Cosign(cctx, h.TreeHead)
		cancel()
		if err == nil {
			done, lastErr = h.TreeHead, ""
			continue
		}
		if ctx.Err() != nil || err.Error() == lastErr || c.Logger == nil {
			continue
		}
		lastErr = err.Error()
		var rb *RollbackError
		if errors.As(err, &rb) {
			c.Logger.ErrorContext(ctx, "AUDIT LOG ROLLBACK OR FORK: a witness refuses the log's checkpoint", slog.Uint64("size", h.Size), slog.String("error", lastErr))
		} else {
			c.Logger.WarnContext(ctx, "audit witnesses: cosigning failed; retrying every interval", slog.Uint64("size", h.Size), slog.Int("cosigned", n), slog.String("error", lastErr))
		}
	}
}

// Cosigned is the latest checkpoint with its cosignatures as one signed note: the log's
// signature (made now with the checkpoint key) followed by every witness's cosignature.
func (c *Collector) Cosigned(ctx context.Context) ([]byte, Checkpoint, error) {
	cp, sigs, err := c.Store.Latest(ctx)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	// GetLogInfo is public: sign each checkpoint once, not once per call.
	c.mu.Lock()
	signed := c.signed
	if signed == nil || c.at.Size != cp.Size || !bytes.Equal(c.at.Root, cp.Root) {
		if signed, err = c.Signer.SignCheckpoint(ctx, cp); err != nil {
			c.mu.Unlock()
			return nil, Checkpoint{}, err
		}
		c.signed, c.at = signed, cp
	}
	c.mu.Unlock()
	n, err := ParseNote(signed)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	n.Signatures = append(n.Signatures, sigs...)
	return n.Marshal(), cp, nil
}
