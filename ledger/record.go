package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind names the event an audit record is about.
type Kind string

// Kinds of audit records (C1). New kinds may be added; the encoding carries
// the kind as a string, so old verifiers keep working.
const (
	KindPull                Kind = "pull"                 // a data pull, granted or denied
	KindPublish             Kind = "publish"              // a resource published to the catalogue
	KindRequirementDecision Kind = "requirement.decision" // a share requirement approved or refused
	KindPolicyChange        Kind = "policy.change"        // a policy rule added, changed or removed
	KindCalendarPublish     Kind = "calendar.publish"     // working-day calendar years published by the coordinator
	KindCertIssue           Kind = "cert.issue"           // an e-certificate issued
	KindCertVerify          Kind = "cert.verify"          // an e-certificate or sealed document verified
	KindCertRevoke          Kind = "cert.revoke"          // an e-certificate revoked
	KindSeal                Kind = "seal"                 // an e-seal applied, created or revoked
)

// Outcome is the result of the audited action.
type Outcome string

// Outcomes of audited actions.
const (
	OutcomeGranted Outcome = "granted" // an access or requirement was allowed
	OutcomeDenied  Outcome = "denied"  // an access or requirement was refused
	OutcomeOK      Outcome = "ok"      // a non-access action succeeded
	OutcomeFailed  Outcome = "failed"  // an action failed (verification failed, error)
)

// DigestSize is the size of an SM3 digest and of a [SubjectKey].
const DigestSize = 32

// SubjectKey is the keyed hash (HMAC-SM3 under the hub's subject key) of a
// data subject's identifier (citizen ID number, unified social credit code).
// Equal subjects give equal keys, so auditors can search by subject, but the
// identifier cannot be read back. The zero value means "no subject".
type SubjectKey [DigestSize]byte

// IsZero reports whether k is the zero key (no subject).
func (k SubjectKey) IsZero() bool { return k == SubjectKey{} }

// String returns k in lower-case hex, or "" for the zero key.
func (k SubjectKey) String() string {
	if k.IsZero() {
		return ""
	}
	return hex.EncodeToString(k[:])
}

// SubjectKeyFunc computes the [SubjectKey] of a subject identifier. The
// sm3hash package provides one (HMAC-SM3 keyed with the hub's configured
// subject key, over [NormalizeSubject] of the identifier).
type SubjectKeyFunc func(subject string) SubjectKey

// NormalizeSubject returns the form of a subject identifier that is hashed:
// surrounding white space removed and ASCII letters upper-cased, so that
// "11010519491231002x " and "11010519491231002X" give the same key.
func NormalizeSubject(subject string) string {
	s := strings.TrimSpace(subject)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// Record is one audit record (C1): who did what, why, when, with which
// outcome. Its leaf in the Merkle log is [Record.MarshalBinary].
type Record struct {
	// Kind is the audited event. Required.
	Kind Kind
	// Time is when the event happened. Required. Encoded with nanosecond
	// precision in UTC; the location is not kept.
	Time time.Time
	// Department is the acting department's code. Required.
	Department string
	// Operator is the acting operator's id inside the department.
	Operator string
	// Resource is the resource acted on (catalogue resource id,
	// certificate serial, policy id, seal id).
	Resource string
	// DataItems are the data items involved, in the order given.
	DataItems []string
	// Subject is the keyed hash of the data subject; zero if none.
	Subject SubjectKey
	// Matter is the matter (事项) code that justifies the action.
	Matter string
	// Case is the case number the action belongs to.
	Case string
	// Outcome is the result. Required.
	Outcome Outcome
	// Reason explains the outcome (the refusal reason and legal basis for a
	// denial, the failing check for a failed verification).
	Reason string
	// ResponseDigest is the SM3 digest of the response sent; nil if none.
	// It must be nil or [DigestSize] bytes.
	ResponseDigest []byte
	// RequestID correlates the record with the request that caused it.
	RequestID string
	// RequestDigest is the SM3 digest of the requester's signed request
	// envelope (the compact JWS of package sdk/reqsig) that caused the
	// record; nil if the act was not a signed request. The envelope itself
	// is kept by the hub as evidence and served with the record's receipt,
	// so the leaf commits to exactly what the requester signed (E5, E6).
	// It must be nil or [DigestSize] bytes.
	RequestDigest []byte
}

// Validate reports whether r can be appended: required fields set, strings
// valid UTF-8, time representable, digest of the right size. The error
// wraps [ErrInvalid].
func (r *Record) Validate() error {
	if r.Kind == "" {
		return fmt.Errorf("%w: record has no kind; set Record.Kind (e.g. ledger.KindPull)", ErrInvalid)
	}
	if r.Time.IsZero() {
		return fmt.Errorf("%w: record has no time; set Record.Time", ErrInvalid)
	}
	if y := r.Time.UTC().Year(); y < 1700 || y > 2200 {
		return fmt.Errorf("%w: record time %s is outside 1700–2200", ErrInvalid, r.Time)
	}
	if r.Department == "" {
		return fmt.Errorf("%w: record has no department; set Record.Department", ErrInvalid)
	}
	if r.Outcome == "" {
		return fmt.Errorf("%w: record has no outcome; set Record.Outcome", ErrInvalid)
	}
	if n := len(r.ResponseDigest); n != 0 && n != DigestSize {
		return fmt.Errorf("%w: response digest is %d bytes, want %d (SM3) or none", ErrInvalid, n, DigestSize)
	}
	if n := len(r.RequestDigest); n != 0 && n != DigestSize {
		return fmt.Errorf("%w: request digest is %d bytes, want %d (SM3) or none", ErrInvalid, n, DigestSize)
	}
	for name, s := range map[string]string{
		"kind": string(r.Kind), "department": r.Department, "operator": r.Operator,
		"resource": r.Resource, "matter": r.Matter, "case": r.Case,
		"outcome": string(r.Outcome), "reason": r.Reason, "request id": r.RequestID,
	} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: record %s is not valid UTF-8", ErrInvalid, name)
		}
	}
	for i, d := range r.DataItems {
		if !utf8.ValidString(d) {
			return fmt.Errorf("%w: record data item %d is not valid UTF-8", ErrInvalid, i)
		}
	}
	return nil
}

// Record encoding, versions 1 and 2.
//
// The leaf bytes of a record are:
//
//	"GXAR" 0x01                         magic and version
//	field*                              13 fields, all present, in tag order
//
// and each field is
//
//	tag (1 byte) | uvarint(len(value)) | value
//
// with these tags and values:
//
//	0x01 kind            UTF-8
//	0x02 time            8 bytes, big-endian int64 Unix nanoseconds (UTC)
//	0x03 department      UTF-8
//	0x04 operator        UTF-8
//	0x05 resource        UTF-8
//	0x06 data items      uvarint(count), then per item uvarint(len) | UTF-8
//	0x07 subject         empty (no subject) or 32 bytes
//	0x08 matter          UTF-8
//	0x09 case            UTF-8
//	0x0a outcome         UTF-8
//	0x0b reason          UTF-8
//	0x0c response digest empty or 32 bytes
//	0x0d request id      UTF-8
//	0x0e request digest  32 bytes (version 2 only)
//
// A record without a request digest is encoded as version 1 (13 fields), one
// with a request digest as version 2 (14 fields): records appended before
// version 2 existed keep their leaves, and each record still has exactly one
// encoding.
//
// uvarint is encoding/binary's unsigned varint in its shortest form. The
// encoding is a function of the Record value: a decoder accepts only bytes
// that re-encode to themselves, so one record has exactly one leaf.
const (
	recordMagic = "GXAR"
	// recordVersion is the encoding of a record without a request digest;
	// recordVersionRequest adds field 0x0e.
	recordVersion        = 1
	recordVersionRequest = 2
)

const (
	tagKind byte = iota + 1
	tagTime
	tagDepartment
	tagOperator
	tagResource
	tagDataItems
	tagSubject
	tagMatter
	tagCase
	tagOutcome
	tagReason
	tagResponseDigest
	tagRequestID
	tagRequestDigest
	tagEnd
)

// MarshalBinary returns the canonical leaf encoding of r (see the format
// above). It fails with [ErrInvalid] if r does not pass [Record.Validate].
func (r *Record) MarshalBinary() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var b []byte
	b = append(b, recordMagic...)
	if len(r.RequestDigest) == 0 {
		b = append(b, recordVersion)
	} else {
		b = append(b, recordVersionRequest)
	}
	str := func(tag byte, s string) {
		b = append(b, tag)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(tagKind, string(r.Kind))
	b = append(b, tagTime, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	str(tagDepartment, r.Department)
	str(tagOperator, r.Operator)
	str(tagResource, r.Resource)
	var items []byte
	items = binary.AppendUvarint(items, uint64(len(r.DataItems)))
	for _, d := range r.DataItems {
		items = binary.AppendUvarint(items, uint64(len(d)))
		items = append(items, d...)
	}
	str(tagDataItems, string(items))
	if r.Subject.IsZero() {
		str(tagSubject, "")
	} else {
		str(tagSubject, string(r.Subject[:]))
	}
	str(tagMatter, r.Matter)
	str(tagCase, r.Case)
	str(tagOutcome, string(r.Outcome))
	str(tagReason, r.Reason)
	str(tagResponseDigest, string(r.ResponseDigest))
	str(tagRequestID, r.RequestID)
	if len(r.RequestDigest) != 0 {
		str(tagRequestDigest, string(r.RequestDigest))
	}
	return b, nil
}

// UnmarshalBinary decodes a leaf produced by [Record.MarshalBinary]. It
// rejects (with [ErrInvalid]) unknown versions, missing, repeated or
// reordered fields, trailing bytes and any non-canonical encoding.
func (r *Record) UnmarshalBinary(data []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: audit record encoding: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if len(data) < len(recordMagic)+1 || string(data[:len(recordMagic)]) != recordMagic {
		return bad("missing %q magic; the bytes are not a gxhub audit record", recordMagic)
	}
	end := tagEnd
	switch v := data[len(recordMagic)]; v {
	case recordVersion:
		end = tagRequestDigest
	case recordVersionRequest:
	default:
		return bad("version %d is not supported (want %d or %d); upgrade the verifier", v, recordVersion, recordVersionRequest)
	}
	p := data[len(recordMagic)+1:]
	var out Record
	for tag := tagKind; tag < end; tag++ {
		if len(p) == 0 {
			return bad("truncated before field %d", tag)
		}
		if p[0] != tag {
			return bad("field tag %d where %d was expected", p[0], tag)
		}
		n, k := binary.Uvarint(p[1:])
		if k <= 0 || n > uint64(len(p)-1-k) {
			return bad("field %d has a bad length", tag)
		}
		v := p[1+k : 1+k+int(n)]
		p = p[1+k+int(n):]
		switch tag {
		case tagKind:
			out.Kind = Kind(v)
		case tagTime:
			if len(v) != 8 {
				return bad("time is %d bytes, want 8", len(v))
			}
			out.Time = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		case tagDepartment:
			out.Department = string(v)
		case tagOperator:
			out.Operator = string(v)
		case tagResource:
			out.Resource = string(v)
		case tagDataItems:
			cnt, k := binary.Uvarint(v)
			if k <= 0 || cnt > uint64(len(v)) {
				return bad("data item count is malformed")
			}
			v = v[k:]
			items := make([]string, 0, cnt)
			for i := uint64(0); i < cnt; i++ {
				l, k := binary.Uvarint(v)
				if k <= 0 || l > uint64(len(v)-k) {
					return bad("data item %d has a bad length", i)
				}
				items = append(items, string(v[k:k+int(l)]))
				v = v[k+int(l):]
			}
			if len(v) != 0 {
				return bad("data items field has %d trailing bytes", len(v))
			}
			if cnt > 0 {
				out.DataItems = items
			}
		case tagSubject:
			switch len(v) {
			case 0:
			case DigestSize:
				copy(out.Subject[:], v)
			default:
				return bad("subject key is %d bytes, want 0 or %d", len(v), DigestSize)
			}
		case tagMatter:
			out.Matter = string(v)
		case tagCase:
			out.Case = string(v)
		case tagOutcome:
			out.Outcome = Outcome(v)
		case tagReason:
			out.Reason = string(v)
		case tagResponseDigest:
			if len(v) > 0 {
				out.ResponseDigest = bytes.Clone(v)
			}
		case tagRequestID:
			out.RequestID = string(v)
		case tagRequestDigest:
			if len(v) != DigestSize {
				return bad("request digest is %d bytes, want %d", len(v), DigestSize)
			}
			out.RequestDigest = bytes.Clone(v)
		}
	}
	if len(p) != 0 {
		return bad("%d trailing bytes after the last field", len(p))
	}
	again, err := out.MarshalBinary()
	if err != nil {
		return err
	}
	if !bytes.Equal(again, data) {
		return bad("not in canonical form (non-minimal lengths or subject key of zeros)")
	}
	*r = out
	return nil
}
