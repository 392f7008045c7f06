// Package server implements the audit services of gxhub over the ledger: the audit log's
// heads, proofs, anchors and records (AuditService: searches, anomalies, subject usage),
// the signed request behind a record (EvidenceService), the attribution of every record to
// the request it serves, and the tampering alarm. Handlers decode, call the domain and
// encode; the verified caller, the audited-write path and the error mapping are
// exchange/rpc's.
package server

import (
	"encoding/pem"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
