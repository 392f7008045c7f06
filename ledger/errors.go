package ledger

import (
	"errors"
	"fmt"
)

// Sentinel errors. Detect them with errors.Is; implementations wrap them with
// context (fmt.Errorf("...: %w", ErrNotFound)).
var (
	// ErrNotFound reports that the requested record, node, head or anchor
	// does not exist (yet). Callers asking for an index or size beyond the
	// current tree should wait for the log to grow or ask for a smaller one.
	// Map it to NotFound / HTTP 404.
	ErrNotFound = errors.New("ledger: not found")

	// ErrConflict reports a write that contradicts what is already stored:
	// an append whose start index is not the current size, a second,
	// different tree head for a size that already has one, or an anchor at a
	// height that is taken. The caller should re-read the current state and
	// retry if its write is still wanted. Map it to Aborted / HTTP 409.
	ErrConflict = errors.New("ledger: conflict with stored state")

	// ErrUnavailable reports a transient failure of the storage or ledger
	// back-end (connection lost, timeout, busy). Nothing was written. The
	// caller may retry with back-off. Map it to Unavailable / HTTP 503 with
	// Retry-After.
	ErrUnavailable = errors.New("ledger: back-end unavailable")

	// ErrClosed reports a call on a log or anchorer that has been closed.
	// The caller must open a new one.
	ErrClosed = fmt.Errorf("ledger: closed: %w", ErrUnavailable)

	// ErrInvalid reports an argument that can never succeed: a malformed
	// record, an index not below the tree size, size1 > size2, a proof of
	// the wrong length. Fix the input; do not retry. Map it to
	// InvalidArgument / HTTP 400.
	ErrInvalid = errors.New("ledger: invalid argument")

	// ErrVerification reports that a proof, signature, hash chain or stored
	// content did not verify. This is evidence of tampering, corruption or
	// a misbehaving log and must be surfaced to an operator, not retried.
	// The typed errors [*ProofError], [*ForkError] and [*ChainError] wrap it.
	ErrVerification = errors.New("ledger: verification failed")

	// ErrInconsistent reports a tree head that is not an extension of an
	// earlier one (the consistency proof fails or is missing). It wraps
	// [ErrVerification].
	ErrInconsistent = fmt.Errorf("ledger: tree heads inconsistent: %w", ErrVerification)

	// ErrIntentDone reports an audit intent that is not pending: its record is in the
	// log already (another appender drained it first) or the outbox does not hold it.
	// Nothing was written; the caller re-reads the outbox instead of retrying.
	ErrIntentDone = errors.New("ledger: audit intent is not pending")
)

// ProofError reports a failed inclusion or consistency proof, a bad head
// signature or a stored record whose hash does not match. It wraps
// [ErrVerification] (or [ErrInconsistent] for consistency proofs) and the
// underlying cause.
type ProofError struct {
	// Kind says what was checked: "inclusion", "consistency", "signature",
	// "leaf", "root".
	Kind string
	// Index is the leaf index for inclusion and leaf checks.
	Index uint64
	// Size is the tree size the check was made against (size2 for
	// consistency).
	Size uint64
	// Err is the underlying cause (may be nil).
	Err error
}

// Error implements error.
func (e *ProofError) Error() string {
	msg := fmt.Sprintf("ledger: %s check failed (index %d, tree size %d)", e.Kind, e.Index, e.Size)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; the log, its storage or the proof was altered — report it to the ledger operator"
}

// Unwrap returns the cause and the sentinel so that errors.Is works for both.
func (e *ProofError) Unwrap() []error {
	s := ErrVerification
	if e.Kind == "consistency" {
		s = ErrInconsistent
	}
	if e.Err == nil {
		return []error{s}
	}
	return []error{s, e.Err}
}

// ForkError reports two different signed tree heads for the same log and
// size: proof that the log showed different histories to different parties.
// It wraps [ErrVerification]. Both heads are kept as evidence.
type ForkError struct {
	A, B SignedTreeHead
}

// Error implements error.
func (e *ForkError) Error() string {
	return fmt.Sprintf("ledger: fork detected: log %q has two different heads for size %d (roots %x and %x); keep both heads as evidence and stop trusting the log",
		e.A.LogID, e.A.Size, e.A.Root, e.B.Root)
}

// Unwrap returns [ErrVerification].
func (e *ForkError) Unwrap() error { return ErrVerification }

// ChainError reports a broken anchor chain: a block whose hash, previous-hash
// link, height, signature or consistency proof does not verify. It wraps
// [ErrVerification] and the cause.
type ChainError struct {
	// Height is the height of the first offending block.
	Height uint64
	// Reason says what is wrong.
	Reason string
	// Err is the underlying cause (may be nil).
	Err error
}

// Error implements error.
func (e *ChainError) Error() string {
	msg := fmt.Sprintf("ledger: anchor chain broken at height %d: %s", e.Height, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause and [ErrVerification].
func (e *ChainError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrVerification}
	}
	return []error{ErrVerification, e.Err}
}
