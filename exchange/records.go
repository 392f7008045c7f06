package exchange

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// ChangeOp is what one change of a publish batch does.
type ChangeOp string

// Change operations.
const (
	OpUpsert ChangeOp = "upsert"
	OpDelete ChangeOp = "delete"
)

// Change is one record change in a publish batch.
type Change struct {
	Op      ChangeOp
	Subject string
	Fields  map[string]string // upsert only: the record's complete data items
	Seal    RecordSeal        // set by the hub before the batch is stored
}

// Batch is a provider's signed publish batch (A4). It is applied atomically: every change
// becomes a new record version, or none does. Evidence is the provider's signed request
// (the GXHUB-SM2 JWS) and BodyDigest the SM3 of the body it covers: the batch signature.
type Batch struct {
	ID         string
	Resource   string
	Provider   string
	Changes    []Change
	At         time.Time
	Evidence   string
	BodyDigest string
	// PublishRecord is the index of the batch's publish audit record, which vouches for its
	// record versions; nil until that record is in the log.
	PublishRecord *uint64
}

// MaxBatchChanges bounds one publish batch.
const MaxBatchChanges = 10000

// ValidateBatch checks a batch against its resource: provider, subject keys of the
// resource's subject kind, only catalogued data items, no subject twice.
func ValidateBatch(b *Batch, r *Resource) error {
	bad := func(reason, format string, args ...any) *Error { return Errorf(KindInvalid, reason, format, args...) }
	if b.Provider != r.Provider {
		return Errorf(KindPermissionDenied, "NOT_RESOURCE_PROVIDER",
			"department %s does not provide resource %s (its provider is %s): only the provider publishes its records", b.Provider, r.Code, r.Provider)
	}
	if len(b.Changes) == 0 {
		return bad("BATCH_EMPTY", "the batch for resource %s holds no changes", r.Code)
	}
	if len(b.Changes) > MaxBatchChanges {
		return bad("BATCH_TOO_LARGE", "the batch holds %d changes; split it into batches of at most %d", len(b.Changes), MaxBatchChanges)
	}
	seen := make(map[string]int, len(b.Changes))
	for i := range b.Changes {
		c := &b.Changes[i]
		c.Subject = NormalizeSubject(c.Subject)
		if err := ValidateSubject(r.SubjectKind, c.Subject); err != nil {
			return Wrap(KindInvalid, "SUBJECT_INVALID", err, "change %d: subject key %q is not a valid %s: %v", i+1, c.Subject, r.SubjectKind, err).AtChange(i)
		}
		if j, dup := seen[c.Subject]; dup {
			return bad("SUBJECT_DUPLICATE", "changes %d and %d both concern subject %s: send one change per subject in a batch", j+1, i+1, c.Subject).AtChange(i)
		}
		seen[c.Subject] = i
		switch c.Op {
		case OpDelete:
			if len(c.Fields) > 0 {
				return bad("DELETE_WITH_FIELDS", "change %d deletes subject %s but carries fields: a delete carries none", i+1, c.Subject).AtChange(i)
			}
		case OpUpsert:
			if len(c.Fields) == 0 {
				return bad("FIELDS_MISSING", "change %d upserts subject %s without fields", i+1, c.Subject).AtChange(i)
			}
			for name, v := range c.Fields {
				if _, ok := r.Item(name); !ok {
					return bad("DATA_ITEM_UNKNOWN", "change %d: data item %q is not catalogued for resource %s; register it in the catalogue first", i+1, name, r.Code).AtChange(i)
				}
				if !utf8.ValidString(v) {
					return bad("FIELD_NOT_UTF8", "change %d: data item %q is not valid UTF-8", i+1, name).AtChange(i)
				}
			}
		default:
			return bad("CHANGE_OP_INVALID", "change %d: op must be upsert or delete, got %q", i+1, c.Op).AtChange(i)
		}
	}
	return nil
}

// SameBatch reports whether b, sent again with the id of a stored batch, carries exactly
// what that batch published: the same resource and provider and, subject by subject, the
// same operation and fields (recs are the record versions the stored batch wrote). A
// provider resuming an interrupted run re-sends its batches; one that matches is already
// published and is not applied twice, one that differs under a used id is refused.
// b's subjects must be normalized (ValidateBatch does it).
func SameBatch(stored *Batch, recs []*Record, b *Batch) bool {
	same, _ := DiffBatch(stored, recs, b)
	return same
}

// DiffBatch is SameBatch that also names the first change of b (0-based) that differs
// from the stored batch, or -1 when the difference is not one change's (resource,
// provider, number of changes).
func DiffBatch(stored *Batch, recs []*Record, b *Batch) (same bool, change int) {
	if stored == nil || stored.ID != b.ID || stored.Resource != b.Resource || stored.Provider != b.Provider {
		return false, -1
	}
	bySubject := make(map[string]*Record, len(recs))
	for _, r := range recs {
		if r.Batch != b.ID || r.Resource != b.Resource {
			return false, -1
		}
		bySubject[r.Subject] = r
	}
	for i, c := range b.Changes {
		r, ok := bySubject[c.Subject]
		if !ok || r.Deleted != (c.Op == OpDelete) {
			return false, i
		}
		if c.Op == OpUpsert && FieldsJSON(r.Fields) != FieldsJSON(c.Fields) {
			return false, i
		}
	}
	if len(recs) != len(b.Changes) {
		return false, -1
	}
	return true, -1
}

// NormalizeSubject trims spaces and upper-cases ASCII letters (a trailing x of an ID
// number, letters of a 统一社会信用代码), so that one subject has one key.
func NormalizeSubject(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

var certNumberRE = regexp.MustCompile(`^[0-9A-Z][0-9A-Z-]{3,63}$`)

// ValidateSubject checks a subject key of the kind: a GB 11643 公民身份号码, a GB 32100
// 统一社会信用代码, or a certificate number (4–64 letters, digits and '-').
func ValidateSubject(kind SubjectKind, s string) error {
	switch kind {
	case SubjectIDNumber:
		return ValidateIDNumber(s)
	case SubjectUSCC:
		return ValidateUSCC(s)
	case SubjectCertificate:
		if !certNumberRE.MatchString(s) {
			return Errorf(KindInvalid, "CERTIFICATE_NUMBER_INVALID", "certificate number %q must be 4–64 upper-case letters, digits or '-'", s)
		}
		return nil
	}
	return Errorf(KindInvalid, "SUBJECT_KIND_INVALID", "unknown subject kind %q", kind)
}

var idNumberRE = regexp.MustCompile(`^[1-9][0-9]{16}[0-9X]$`)

// ValidateIDNumber checks an 18-character 公民身份号码 (GB 11643-1999): region, date of
// birth, sequence and the ISO 7064 MOD 11-2 check character.
func ValidateIDNumber(s string) error {
	if !idNumberRE.MatchString(s) {
		return Errorf(KindInvalid, "ID_NUMBER_INVALID", "ID number %q must be 17 digits followed by a digit or X", s)
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return Errorf(KindInvalid, "ID_NUMBER_INVALID", "ID number %q: %s is not a valid date of birth", s, s[6:14])
	}
	if c := IDNumberCheckChar(s[:17]); c != s[17] {
		return Errorf(KindInvalid, "ID_NUMBER_INVALID", "ID number %q: check character is %c, expected %c (GB 11643 MOD 11-2)", s, s[17], c)
	}
	return nil
}

// IDNumberCheckChar returns the GB 11643 check character of the first 17 digits.
func IDNumberCheckChar(first17 string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17 && i < len(first17); i++ {
		sum += int(first17[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

// FieldsJSON encodes record fields canonically (sorted keys).
func FieldsJSON(f map[string]string) string {
	if f == nil {
		f = map[string]string{}
	}
	b, _ := json.Marshal(f) // map keys are sorted by encoding/json
	return string(b)
}
