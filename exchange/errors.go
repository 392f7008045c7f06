package exchange

import (
	"errors"
	"fmt"
	"strconv"
)

// Kind classifies an error for transports. The server maps each kind to one gRPC code and
// HTTP status, once, at its edge.
type Kind int

// Error kinds.
const (
	KindInternal           Kind = iota // a fault of the hub; details are logged, not returned
	KindInvalid                        // the request is malformed or violates a rule (400)
	KindUnauthenticated                // no valid department signature (401)
	KindPermissionDenied               // authenticated but not allowed (403)
	KindNotFound                       // the named thing does not exist (404)
	KindAlreadyExists                  // a create collided with an existing thing (409)
	KindFailedPrecondition             // the system is not in a state that allows it (409/412)
	KindUnavailable                    // try again later (503)
	KindDataLoss                       // stored data no longer matches what was committed: tampering or corruption (500)
)

var kindNames = map[Kind]string{
	KindInternal: "internal", KindInvalid: "invalid", KindUnauthenticated: "unauthenticated",
	KindPermissionDenied: "permission denied", KindNotFound: "not found", KindAlreadyExists: "already exists",
	KindFailedPrecondition: "failed precondition", KindUnavailable: "unavailable", KindDataLoss: "data loss",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Sentinels to test with errors.Is; every *Error of that kind matches its sentinel.
var (
	ErrInvalid            = &Error{Kind: KindInvalid, Reason: "INVALID_ARGUMENT", Msg: "invalid request"}
	ErrUnauthenticated    = &Error{Kind: KindUnauthenticated, Reason: "UNAUTHENTICATED", Msg: "request not authenticated"}
	ErrPermissionDenied   = &Error{Kind: KindPermissionDenied, Reason: "PERMISSION_DENIED", Msg: "permission denied"}
	ErrNotFound           = &Error{Kind: KindNotFound, Reason: "NOT_FOUND", Msg: "not found"}
	ErrAlreadyExists      = &Error{Kind: KindAlreadyExists, Reason: "ALREADY_EXISTS", Msg: "already exists"}
	ErrFailedPrecondition = &Error{Kind: KindFailedPrecondition, Reason: "FAILED_PRECONDITION", Msg: "failed precondition"}
	ErrUnavailable        = &Error{Kind: KindUnavailable, Reason: "UNAVAILABLE", Msg: "temporarily unavailable"}
)

// Error is a domain error with a stable machine-readable Reason (UPPER_SNAKE, e.g.
// "SIGNATURE_INVALID") and a message for people that says what is wrong and what to do.
// Err, if set, is the internal cause: logged, never shown to clients for KindInternal.
type Error struct {
	Kind   Kind
	Reason string
	Msg    string
	Err    error
	// Meta, if set, carries machine-readable details (google.rpc.ErrorInfo metadata), e.g.
	// "change": the 1-based position of the failing change in a publish batch.
	Meta map[string]string
}

// MetaChange is the Meta key of the 1-based position of the change an error is about.
const MetaChange = "change"

// AtChange marks e as being about the i-th (0-based) change of a batch and returns it.
func (e *Error) AtChange(i int) *Error {
	if e.Meta == nil {
		e.Meta = map[string]string{}
	}
	e.Meta[MetaChange] = strconv.Itoa(i + 1)
	return e
}

// Error returns the public message alone, for every kind: the cause (Unwrap) may be a
// storage or library error whose text must not reach a client, so whatever the message
// should tell the client is in Msg itself.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && (t.Reason == e.Reason || isSentinel(t))
}

func isSentinel(e *Error) bool {
	switch e {
	case ErrInvalid, ErrUnauthenticated, ErrPermissionDenied, ErrNotFound, ErrAlreadyExists,
		ErrFailedPrecondition, ErrUnavailable:
		return true
	}
	return false
}

// Errorf builds an *Error of the given kind and reason.
func Errorf(kind Kind, reason, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error of the given kind and reason around a cause.
func Wrap(kind Kind, reason string, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: reason, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of err (KindInternal when it carries none).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
