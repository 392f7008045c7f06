// Package convert turns the wire messages of sdk/api into the domain types of exchange,
// certs and ledger and back. The hub's services and the SDK (and gxctl) use the same
// converters, so a client checks exactly what the hub served; the package depends on the
// generated messages and the domain packages only, never on the server or storage.
package convert

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// ts converts a time for the wire (nil for the zero time).
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// certTS is ts (the name the certificate converters use).
func certTS(t time.Time) *timestamppb.Timestamp { return ts(t) }

// asTime converts a wire time (the zero time for nil).
func asTime(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
