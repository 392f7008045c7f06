package gxanchor

import "errors"

// The contract's refusals. Every error a transaction returns wraps exactly one of these,
// and its message starts with the sentinel's text (a stable code such as
// "GXANCHOR_INCONSISTENT"), so clients that only see the message through Fabric's gateway
// can classify it with strings.HasPrefix or strings.Contains.
var (
	// ErrInvalid reports a malformed argument (log id, hash, signature encoding, proof
	// element). The caller must fix its request; retrying the same request fails again.
	ErrInvalid = errors.New("GXANCHOR_INVALID")
	// ErrLogExists reports an InitLog for a log id that is already registered with a
	// different public key. A log's key cannot be replaced; use a new log id.
	ErrLogExists = errors.New("GXANCHOR_LOG_EXISTS")
	// ErrUnknownLog reports a transaction on a log id that InitLog never registered. Call
	// InitLog(logID, publicKeyPEM) first.
	ErrUnknownLog = errors.New("GXANCHOR_UNKNOWN_LOG")
	// ErrBadSignature reports a tree head whose SM2 signature does not verify under the
	// log's registered public key. The head was not signed by the log, or was altered.
	ErrBadSignature = errors.New("GXANCHOR_BAD_SIGNATURE")
	// ErrInconsistent reports a tree head that the supplied consistency proof does not
	// link to the latest anchored head: either the proof is wrong or the log was
	// rewritten. Investigate before retrying; a rewritten log is tampering.
	ErrInconsistent = errors.New("GXANCHOR_INCONSISTENT")
	// ErrFork reports a tree head whose size is already anchored with a different root
	// hash: two different trees of the same size, i.e. a forked or rewritten log.
	ErrFork = errors.New("GXANCHOR_FORK")
	// ErrStale reports a tree head smaller than the latest anchored one that was never
	// anchored itself. Anchor only heads at least as large as LatestHead.
	ErrStale = errors.New("GXANCHOR_STALE")
	// ErrNotFound reports a query for a head (or a latest head) that is not anchored.
	ErrNotFound = errors.New("GXANCHOR_NOT_FOUND")
)
