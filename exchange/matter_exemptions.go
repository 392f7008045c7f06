package exchange

import (
	"fmt"
	"slices"
	"strings"
	"time"
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
	Reason      string
}

// ApplicantKind classifies an applicant subject key: a 公民身份号码 (GB 11643) or a
// 统一社会信用代码 (GB 32100). Anything else is an error saying which forms are accepted.
func ApplicantKind(subject string) (SubjectKind, error) {
	s := strings.ToUpper(strings.TrimSpace(subject))
	if ValidateUSCC(s) == nil {
		return SubjectUSCC, nil
	}
	if err := checkCitizenID(s); err == nil {
		return SubjectIDNumber, nil
	} else if len(s) == 18 && s[0] >= '1' && s[0] <= '9' && strings.IndexFunc(s[:17], func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return "", Wrap(KindInvalid, "APPLICANT_INVALID", err, "applicant %q is not a valid 公民身份号码", subject)
	}
	return "", Errorf(KindInvalid, "APPLICANT_INVALID", "applicant %q is neither a 公民身份号码 (18 characters, GB 11643) nor a 统一社会信用代码 (18 characters, GB 32100)", subject)
}

var citizenWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkCitizenID checks an 18-character 公民身份号码: 17 digits, a birth date and the
// MOD 11-2 check character.
func checkCitizenID(id string) error {
	if len(id) != 18 {
		return fmt.Errorf("a citizen identity number has 18 characters, got %d", len(id))
	}
	sum := 0
	for i := range 17 {
		if id[i] < '0' || id[i] > '9' {
			return fmt.Errorf("character %d must be a digit", i+1)
		}
		sum += int(id[i]-'0') * citizenWeights[i]
	}
	if b, err := time.Parse("20060102", id[6:14]); err != nil || b.Year() < 1880 {
		return fmt.Errorf("%q is not a birth date", id[6:14])
	}
	if want := "10X98765432"[sum%11]; id[17] != want {
		return fmt.Errorf("the check character is %q, GB 11643 gives %q: the number is mistyped", id[17], want)
	}
	return nil
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
	// ECertType reports whether an e-certificate type code is known to the hub.
	ECertType func(code string) bool
}

// Exemptions answers, for every material of the matter, whether the consumer must not
// demand it from the applicant (REQUIREMENTS A7): a material is exempt when a granted
// requirement of the consumer for its resource covers its data items and is bound to the
// matter, and the resource is keyed by the applicant's kind of subject; or when it is an
// e-certificate of a known type. Otherwise it must be submitted, and the reason says what
// is missing (e.g. which requirement to file).
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
			if q.ECertType != nil && q.ECertType(mt.ECertType) {
				e.Exempt, e.Source = true, SourceECert
				e.Reason = fmt.Sprintf("obtainable as an e-certificate (电子证照) of type %s: ask the applicant to present it (亮证) or look it up; do not demand the paper", mt.ECertType)
			} else {
				why = append(why, fmt.Sprintf("e-certificate type %s is not in the hub's licence catalogue", mt.ECertType))
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
