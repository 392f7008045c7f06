package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Verification (核验, seed 003 task 6 通过数据共享核验): a counter clerk sends the values an
// applicant declared and learns, per data item, whether the register holds the same value
// — never the value itself. A verify-only requirement allows nothing else (CheckPull
// refuses it); a pull requirement may verify too, since a verification discloses less.

// Bounds of one verification.
const (
	MaxVerifyClaims     = 64
	MaxVerifyClaimBytes = 1024
)

// VerifyOutcome is the answer for one claimed item.
type VerifyOutcome string

// Outcomes.
const (
	VerifyMatch    VerifyOutcome = "match"     // the register holds the claimed value (after NormalizeClaim)
	VerifyMismatch VerifyOutcome = "mismatch"  // the register holds another value
	VerifyNoRecord VerifyOutcome = "no_record" // no live record of the subject, or the record has no value for the item
)

// ReasonVerified is the reason code of a granted verification's audit record.
const ReasonVerified = "VERIFIED"

// Claim is one declared value of a data item.
type Claim struct {
	Item  string
	Value string
}

// VerifyInput is one verification as the consuming department asked for it.
type VerifyInput struct {
	Caller        *Department
	Operator      string
	RequirementID string
	MatterCode    string
	CaseNumber    string
	Subject       string
	Claims        []Claim
}

// ItemVerdict is the outcome for one claimed item.
type ItemVerdict struct {
	Item    string
	Outcome VerifyOutcome
}

// VerifyResult is what the hub signs and returns for a verification: outcomes, provenance
// and freshness, and no value of any item.
type VerifyResult struct {
	VerificationID string
	RequirementID  string
	Consumer       string
	Operator       string
	Resource       string
	Provider       string
	MatterCode     string
	CaseNumber     string
	Subject        string
	AsOf           time.Time
	RecordVersion  int64 // 0 when there is no live record
	Results        []ItemVerdict
	Freshness      Freshness
	PolicyVersion  int64
}

// VerifySigner signs a verification result as the hub.
type VerifySigner interface {
	SignVerification(ctx context.Context, r *VerifyResult) (SignedPull, error)
}

// VerifyAnswer is a granted verification: the result, its signature and audit record.
type VerifyAnswer struct {
	Result    *VerifyResult
	Signed    SignedPull
	AuditRefs []uint64
}

// NormalizeClaim is the form both values are compared in: full-width forms (U+FF01–U+FF5E)
// as their half-width ASCII, the ideographic space as a space, every white space removed,
// and letters in upper case (so "渝 b12345", "渝Ｂ１２３４５" and "渝B12345" are the same code).
func NormalizeClaim(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		if unicode.IsSpace(r) {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Compare is the outcome for one claimed value against the register's (held reports
// whether the record has the item).
func Compare(claimed, registered string, held bool) VerifyOutcome {
	if !held || registered == "" {
		return VerifyNoRecord
	}
	if NormalizeClaim(claimed) == NormalizeClaim(registered) {
		return VerifyMatch
	}
	return VerifyMismatch
}

// Verify answers one verification: per claimed item match, mismatch or no record, signed by
// the hub and audited (one record, reason VERIFIED, the subject keyed, the items claimed,
// the outcomes but no value), or a refusal with a stable reason, audited too. The rules of a
// pull hold (CheckVerify), then the policy may refuse further.
func (p *Puller) Verify(ctx context.Context, in VerifyInput) (*VerifyAnswer, error) {
	now := p.now().UTC()
	a := PullAudit{PullID: NewID(), At: now, Department: in.Caller.Code, Operator: in.Operator, Matter: in.MatterCode, Case: in.CaseNumber}
	subject := NormalizeSubject(in.Subject)
	if subject != "" && len(subject) <= 64 {
		a.Subjects = []string{subject}
	}
	items := make([]string, len(in.Claims))
	for i, c := range in.Claims {
		items[i] = strings.TrimSpace(c.Item)
	}
	deny := func(err error) (*VerifyAnswer, error) { return nil, p.deny(ctx, a, err) }
	bad := func(reason, format string, args ...any) (*VerifyAnswer, error) {
		return deny(Errorf(KindInvalid, reason, format, args...))
	}
	if oversized(PullInput{Operator: in.Operator, RequirementID: in.RequirementID, MatterCode: in.MatterCode, CaseNumber: in.CaseNumber,
		Subjects: []string{in.Subject}}) || len(in.Claims) > MaxVerifyClaims {
		return bad("VERIFY_REQUEST_INVALID", "a verification names one subject and 1 to %d claimed items, with ids of at most 64 (subject, case, matter), 128 (requirement) and 256 (operator) bytes", MaxVerifyClaims)
	}
	a.Items = items
	if !in.Caller.HasRole(RoleConsumer) {
		return deny(Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role needed to verify data", in.Caller.Code))
	}
	switch {
	case blank(in.RequirementID):
		return bad("REQUIREMENT_MISSING", "requirement_id is required: verifications are made under a granted requirement")
	case blank(in.MatterCode):
		return bad("MATTER_CODE_MISSING", "matter_code (事项编码) is required: every verification is bound to the matter it serves")
	case blank(in.CaseNumber):
		return bad(ReasonCaseNumberMissing, "case_number (办件编码) is required: every verification serves an open case of your department (gxctl case open)")
	case subject == "":
		return bad("SUBJECTS_INVALID", "name the subject whose declared values are verified")
	case len(in.Claims) == 0:
		return bad("CLAIMS_MISSING", "claim at least one value: item=value, for items the requirement approved")
	}
	for i, c := range in.Claims {
		if slices.Index(items, items[i]) != i {
			return bad("DATA_ITEM_DUPLICATE", "data item %q is claimed twice", items[i])
		}
		if len(c.Value) > MaxVerifyClaimBytes || !utf8.ValidString(c.Value) {
			return bad("CLAIM_INVALID", "the claimed value of %s must be UTF-8 text of at most %d bytes", items[i], MaxVerifyClaimBytes)
		}
	}
	rq, res, err := p.requirementAndResource(ctx, in.RequirementID, &a)
	if err != nil {
		return nil, err
	}
	f := PullFacts{Caller: in.Caller, Operator: in.Operator, Requirement: rq, Resource: res, MatterCode: in.MatterCode,
		CaseNumber: in.CaseNumber, Items: items, Subjects: a.Subjects}
	if f.Matter, err = p.Matters.Get(ctx, in.MatterCode); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if f.Case, err = p.Cases.Get(ctx, in.CaseNumber); err != nil && KindOf(err) != KindNotFound {
		return nil, err
	}
	if err := CheckVerify(f); err != nil {
		return deny(err)
	}
	verdict, err := p.Policy.Restrict(ctx, f)
	if err != nil {
		return nil, err
	}
	if !verdict.Allow {
		return deny(&Error{Kind: KindPermissionDenied, Reason: verdict.Reason, Msg: verdict.Message})
	}
	if p.VerifySigner == nil {
		return nil, Errorf(KindUnavailable, "SIGNER_UNAVAILABLE", "the hub has no key to sign verifications")
	}
	result := &VerifyResult{VerificationID: a.PullID, RequirementID: rq.ID, Consumer: in.Caller.Code, Operator: in.Operator,
		Resource: res.Code, Provider: res.Provider, MatterCode: in.MatterCode, CaseNumber: in.CaseNumber, Subject: subject,
		AsOf: now, Freshness: p.Freshness.FreshnessOf(ctx, res, now), PolicyVersion: verdict.Version}
	rec, err := p.Records.Latest(ctx, res.Code, subject)
	switch {
	case KindOf(err) == KindNotFound || (err == nil && rec.Deleted):
		rec = nil
	case err != nil:
		return nil, err
	default:
		result.RecordVersion = rec.Version
		// A verification answers from what the provider published, like a pull: the stored
		// version is checked against its publish record first (every item withheld).
		if p.Voucher == nil {
			return nil, Errorf(KindUnavailable, "RECORD_VOUCHER_MISSING", "no record voucher is configured: records are used only after they are checked against their publish record")
		}
		if _, err := p.Voucher.Vouch(ctx, rec, nil); err != nil {
			var de *Error
			if errors.As(err, &de) {
				return deny(err)
			}
			return nil, err
		}
	}
	outcomes := make([]string, len(in.Claims))
	for i, c := range in.Claims {
		var v string
		held := false
		if rec != nil {
			v, held = rec.Fields[items[i]]
		}
		o := Compare(c.Value, v, held)
		result.Results = append(result.Results, ItemVerdict{Item: items[i], Outcome: o})
		outcomes[i] = items[i] + "=" + string(o)
	}
	signed, err := p.VerifySigner.SignVerification(ctx, result)
	if err != nil {
		return nil, fmt.Errorf("sign verification result: %w", err)
	}
	a.Granted, a.Digest = true, signed.Digest
	a.Reason = fmt.Sprintf("%s: %s; %s", ReasonVerified, verdict.Message, strings.Join(outcomes, ", "))
	refs, err := p.audit(ctx, a)
	if err != nil {
		return nil, err
	}
	return &VerifyAnswer{Result: result, Signed: signed, AuditRefs: refs}, nil
}
