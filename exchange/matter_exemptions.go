package exchange

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// ExemptionSource says how a material can be obtained without the applicant.
type ExemptionSource string

// Exemption sources.
const (
	SourceNone    ExemptionSource = ""             // the applicant must submit it
	SourceSharing ExemptionSource = "sharing"      // pulled under a granted requirement
	SourceECert   ExemptionSource = "ecertificate" // an e-certificate (电子证照) of the type
)

// Exemption is the answer for one material of a matter: whether it must not be demanded
// from the applicant (免于提交), where it comes from instead, and why.
type Exemption struct {
	Material Material
	Exempt   bool
	Source   ExemptionSource
	// Requirement is the granted requirement to pull the material's data items under
	// (Source sharing): with the matter code, a case number and the applicant as subject
	// it is a complete PullRequest.
	Requirement string
	Provider    string
	// ECert is the applicant's active e-certificate that supplies the material (Source
	// ecertificate): its identifier in the registry.
	ECert  string
	Reason string
}

// ApplicantKind classifies an applicant subject key: a 公民身份号码 (GB 11643) or a
// 统一社会信用代码 (GB 32100), each with its check character verified. Anything else is an
// error saying which forms are accepted and, for a near miss, what is wrong.
func ApplicantKind(subject string) (SubjectKind, error) {
	s := NormalizeSubject(subject)
	uerr := ValidateUSCC(s)
	if uerr == nil {
		return SubjectUSCC, nil
	}
	ierr := ValidateIDNumber(s)
	switch {
	case ierr == nil:
		return SubjectIDNumber, nil
	case idNumberRE.MatchString(s):
		return "", Wrap(KindInvalid, "APPLICANT_INVALID", ierr, "applicant %q is not a valid 公民身份号码: %v", subject, ierr)
	case utf8.RuneCountInString(s) == 18:
		return "", Wrap(KindInvalid, "APPLICANT_INVALID", uerr, "applicant %q is not a valid 统一社会信用代码: %v", subject, uerr)
	}
	return "", Errorf(KindInvalid, "APPLICANT_INVALID", "applicant %q is neither a 公民身份号码 (18 characters, GB 11643) nor a 统一社会信用代码 (18 characters, GB 32100)", subject)
}

// ExemptionQuery is what Exemptions decides on.
type ExemptionQuery struct {
	Matter    *Matter
	Applicant string // the applicant's subject key
	Consumer  string // the department handling the case (the caller)
	// Resources are the catalogue entries the materials name (missing = not catalogued).
	Resources map[string]*Resource
	// Requirements are the consumer's requirements for those resources, any state.
	Requirements []*Requirement
	// HeldECert looks up, in the e-certificate registry, an active e-certificate of the type
	// held by the applicant: its identifier, or "" and why there is none. Nil: none is held.
	HeldECert func(typeCode string) (identifier, why string)
}

// Exemptions answers, for every material of the matter, whether the consumer must not
// demand it from the applicant (REQUIREMENTS A7): a material is exempt when a granted
// requirement of the consumer for its resource covers its data items and is bound to the
// matter, and the resource is keyed by the applicant's kind of subject; or when the
// applicant holds an active e-certificate of its type in the registry. Otherwise it must be
// submitted, and the reason says what is missing (e.g. which requirement to file).
func Exemptions(q ExemptionQuery) ([]Exemption, error) {
	kind, err := ApplicantKind(q.Applicant)
	if err != nil {
		return nil, err
	}
	out := make([]Exemption, 0, len(q.Matter.Materials))
	for _, mt := range q.Matter.Materials {
		e := Exemption{Material: mt}
		var why []string
		if mt.Resource != "" {
			if ok, req, reason := sharedBy(q, mt, kind); ok {
				e.Exempt, e.Source, e.Requirement, e.Provider, e.Reason = true, SourceSharing, req.ID, req.Provider, reason
			} else {
				why = append(why, reason)
			}
		}
		if !e.Exempt && mt.ECertType != "" {
			id, no := "", fmt.Sprintf("the applicant holds no active e-certificate of type %s in the registry", mt.ECertType)
			if q.HeldECert != nil {
				id, no = q.HeldECert(mt.ECertType)
			}
			if id != "" {
				e.Exempt, e.Source, e.ECert = true, SourceECert, id
				e.Reason = fmt.Sprintf("the applicant holds active e-certificate %s (电子证照, type %s): it is fetched from the registry and verified for the case; do not demand the paper", id, mt.ECertType)
			} else {
				why = append(why, no)
			}
		}
		if !e.Exempt {
			if len(why) == 0 {
				why = append(why, "no catalogued resource or e-certificate type supplies this material")
			}
			e.Reason = "must be submitted: " + strings.Join(why, "; ")
		}
		out = append(out, e)
	}
	return out, nil
}

func sharedBy(q ExemptionQuery, mt Material, kind SubjectKind) (bool, *Requirement, string) {
	res, ok := q.Resources[mt.Resource]
	if !ok {
		return false, nil, fmt.Sprintf("resource %s is not in the catalogue", mt.Resource)
	}
	if res.SubjectKind != kind && res.SubjectKind != SubjectCertificate {
		return false, nil, fmt.Sprintf("resource %s is keyed by %s, the applicant by %s", res.Code, res.SubjectKind, kind)
	}
	var pending []string
	for _, r := range q.Requirements {
		if r.Consumer != q.Consumer || r.Resource != mt.Resource {
			continue
		}
		var missing []string
		for _, it := range mt.Items {
			if !slices.Contains(r.Items, it) {
				missing = append(missing, it)
			}
		}
		switch {
		case !r.Grants():
			pending = append(pending, fmt.Sprintf("requirement %s is %s", r.ID, r.State))
		case !slices.Contains(r.MatterCodes, q.Matter.Code):
			pending = append(pending, fmt.Sprintf("granted requirement %s is not bound to matter %s", r.ID, q.Matter.Code))
		case len(missing) > 0:
			pending = append(pending, fmt.Sprintf("granted requirement %s lacks data items %s", r.ID, strings.Join(missing, ", ")))
		default:
			reason := fmt.Sprintf("shared by %s under granted requirement %s (resource %s, items %s): pull it for the case, do not demand it (免于提交)",
				r.Provider, r.ID, res.Code, strings.Join(mt.Items, ", "))
			if res.SubjectKind == SubjectCertificate {
				reason += "; the applicant states the certificate number instead of submitting the document"
			}
			return true, r, reason
		}
	}
	if len(pending) == 0 {
		return false, nil, fmt.Sprintf("department %s has no requirement for resource %s: file one (gxctl requirement file) bound to matter %s", q.Consumer, res.Code, q.Matter.Code)
	}
	return false, nil, strings.Join(pending, "; ")
}
