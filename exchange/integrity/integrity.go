// Package integrity computes and checks the digests that tie every published record version
// to the publish record of its batch in the audit log. The hub seals batches with it when a
// provider publishes and checks served versions with it; a consumer (the SDK, gxctl) checks
// what it was served with the same code, offline.
package integrity

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
)

// Record integrity (docs/AUDIT.md, "Record integrity"): every published record version is
// committed to the audit log by its batch's publish record, so that a record altered in the
// database is refused at pull time and a consumer's data can be checked offline against what
// the provider published. All digests are SM3; lp(x) is uvarint(len(x)) ‖ x.
//
//	item salt         SM3("gxhub/item-salt/v1" 0x00 ‖ salt ‖ lp(name))       salt: 32 random bytes per version
//	item commitment   SM3("gxhub/item/v1" 0x00 ‖ item salt ‖ lp(name) ‖ lp(value))
//	version digest    SM3("gxhub/record/v1" 0x00 ‖ lp(resource) ‖ lp(batch) ‖ lp(subject) ‖ deleted (1 byte) ‖
//	                      uvarint(n) ‖ (lp(name) ‖ commitment) for each item in byte order of the names)
//	batch root        RFC 6962 Merkle root (SM3, as the audit log) of the version digests, in the batch's order
//	publish digest    SM3("gxhub/publish/v1" 0x00 ‖ SM3(provider's signed request) ‖ batch root)
//
// The publish digest is the response digest of the batch's publish audit record. Salted
// commitments let a consumer be given only its approved items: the others appear as
// commitments, which reveal nothing of their values.
const (
	itemSaltTag   = "gxhub/item-salt/v1\x00"
	itemTag       = "gxhub/item/v1\x00"
	recordTag     = "gxhub/record/v1\x00"
	publishTag    = "gxhub/publish/v1\x00"
	recordSaltLen = 32
)

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func sm3(parts ...[]byte) []byte {
	d := sm.Sum(bytes.Join(parts, nil))
	return d[:]
}

// ItemSalt is the salt of one data item of a record version.
func ItemSalt(salt []byte, name string) []byte {
	return sm3([]byte(itemSaltTag), salt, appendLP(nil, name))
}

// ItemCommitment commits to one data item's value under its item salt.
func ItemCommitment(itemSalt []byte, name, value string) []byte {
	return sm3([]byte(itemTag), itemSalt, appendLP(appendLP(nil, name), value))
}

// VersionDigest is a record version's digest over its items' commitments.
func VersionDigest(resource, batch, subject string, deleted bool, commitments map[string][]byte) []byte {
	b := []byte(recordTag)
	b = appendLP(appendLP(appendLP(b, resource), batch), subject)
	if deleted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	names := make([]string, 0, len(commitments))
	for n := range commitments {
		names = append(names, n)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = append(appendLP(b, n), commitments[n]...)
	}
	return sm3(b)
}

// PublishDigest is the response digest of a batch's publish audit record.
func PublishDigest(evidenceDigest, batchRoot []byte) []byte {
	return sm3([]byte(publishTag), evidenceDigest, batchRoot)
}

// EvidenceDigest is the SM3 of a batch's evidence (the provider's signed request).
func EvidenceDigest(evidence string) []byte { return sm3([]byte(evidence)) }

// Commitments is the item commitments of a version's fields under its salt.
func Commitments(salt []byte, fields map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(fields))
	for n, v := range fields {
		out[n] = ItemCommitment(ItemSalt(salt, n), n, v)
	}
	return out
}

// SealBatch draws each change's salt, computes the version digests and sets every change's
// Seal (position, batch size, path); it returns the batch root.
func SealBatch(b *exchange.Batch) ([]byte, error) {
	digests := make([][]byte, len(b.Changes))
	for i := range b.Changes {
		c := &b.Changes[i]
		salt := make([]byte, recordSaltLen)
		if _, err := rand.Read(salt); err != nil {
			return nil, fmt.Errorf("draw a record salt: %w", err)
		}
		c.Seal = exchange.RecordSeal{Salt: salt, Position: uint64(i), BatchSize: uint64(len(b.Changes))}
		digests[i] = VersionDigest(b.Resource, b.ID, c.Subject, c.Op == exchange.OpDelete, Commitments(salt, c.Fields))
	}
	root, paths := verify.Tree(digests)
	for i := range b.Changes {
		b.Changes[i].Seal.Path = paths[i]
	}
	return root, nil
}

// PublishedDigest recomputes, from a served record version and its vouch, the publish
// digest the version's publish audit record must carry. fields are the items served (each
// with a salt in v.Salts); every other item of the version is in v.Withheld.
func PublishedDigest(resource, subject string, deleted bool, fields map[string]string, v *exchange.Vouch, batch string) ([]byte, error) {
	if v == nil {
		return nil, errors.New("no vouch: nothing ties this record to a publish record")
	}
	cs := make(map[string][]byte, len(fields)+len(v.Withheld))
	for n, val := range fields {
		s, ok := v.Salts[n]
		if !ok {
			return nil, fmt.Errorf("item %s has no salt in the vouch", n)
		}
		cs[n] = ItemCommitment(s, n, val)
	}
	for n, c := range v.Withheld {
		if _, dup := cs[n]; dup {
			return nil, fmt.Errorf("item %s is both served and withheld", n)
		}
		cs[n] = c
	}
	root, err := verify.RootFromPath(v.Position, v.BatchSize, VersionDigest(resource, batch, subject, deleted, cs), v.Path)
	if err != nil {
		return nil, err
	}
	return PublishDigest(v.EvidenceDigest, root), nil
}

// CheckPublishRecord checks that rec is the publish record of batch (of resource, by
// provider) and that it carries digest.
func CheckPublishRecord(rec ledger.Record, resource, provider, batch string, digest []byte) error {
	switch {
	case rec.Kind != ledger.KindPublish:
		return fmt.Errorf("audit record is a %s record, not a publish", rec.Kind)
	case rec.RequestID != batch || rec.Resource != resource || rec.Department != provider:
		return fmt.Errorf("audit record is the publish of batch %s of %s by %s, not of batch %s of %s by %s", rec.RequestID, rec.Resource, rec.Department, batch, resource, provider)
	case !bytes.Equal(rec.ResponseDigest, digest):
		return errors.New("the data does not hash to the digest the publish record carries: it is not what the provider published")
	}
	return nil
}
