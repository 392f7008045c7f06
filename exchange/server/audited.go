package server

import (
	"errors"
	"time"

	"github.com/gxhub/gxhub/ledger"
)

// Audit record kinds of the exchange's business writes beyond those ledger declares.
const (
	KindCatalogChange   ledger.Kind = "catalog.change"      // a resource registered, changed or withdrawn
	KindCatalogProposal ledger.Kind = "catalog.proposal"    // a narrowing proposed, approved, rejected or withdrawn
	KindMatterChange    ledger.Kind = "matter.change"       // a matter registered or changed
	KindCase            ledger.Kind = "case"                // a case opened, closed or withdrawn; materials collected
	KindObjection       ledger.Kind = "objection"           // an objection raised, resolved or escalated
	KindRecordHistory   ledger.Kind = "record.history"      // a provider read every version of a subject's record
	KindHeartbeat       ledger.Kind = "freshness.heartbeat" // a provider declared a resource live
	KindExemptionLookup ledger.Kind = "matter.exemptions"   // what the hub knows of an applicant for a matter
)

// errNothingWritten ends an audited write whose store call found nothing to change (a
// state already reached): nothing commits, and no record is made.
var errNothingWritten = errors.New("nothing written")

// Clock is a service's time source (time.Now when nil).
type Clock func() time.Time

func (c Clock) now() time.Time {
	if c != nil {
		return c()
	}
	return time.Now()
}
