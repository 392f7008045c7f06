// Package ledger declares the audit ledger of gxhub: audit records (C1), the
// append-only Merkle log they are kept in (C2) and the anchoring of its signed
// tree heads on a permissioned ledger (C3).
//
// The package holds types, canonical encodings and contracts only; it imports
// the standard library alone. Implementations live below it:
//
//   - ledger/sm3hash: the RFC 6962 tree hasher with SM3 and the HMAC-SM3 subject keyer;
//   - ledger/sm2sig: SM2 signing and verification of tree heads and anchor blocks;
//   - ledger/log: the group-committed Merkle log over a [Storage];
//   - ledger/verify: the offline verifier used by the SDK and `gxctl audit verify`;
//   - ledger/embedded: the default [Anchorer], a hash chain of SM2-signed blocks;
//   - ledger/memory: an in-memory [Storage];
//   - ledger/ledgertest: conformance suites for [Storage] and [Anchorer].
//
// # Data flow
//
// A caller builds a [Record] and appends it to a [Log]. The log encodes it with
// [Record.MarshalBinary] (the leaf), hashes it with the RFC 6962 leaf hash
// (SM3(0x00 || leaf)) and writes it, batched with other appends, through
// [Storage]. At an interval the log signs a [TreeHead] (SM2 over
// [TreeHead.SignedBytes]) and stores the [SignedTreeHead]. An anchoring loop
// passes new signed heads, with a consistency proof from the last anchored
// head, to an [Anchorer]. An auditor verifies offline: a record's inclusion
// proof against a signed head, consistency between two heads, the heads'
// signatures, and the anchor chain.
package ledger
