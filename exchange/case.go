package exchange

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// CaseState is where a case (办件) stands.
type CaseState string

// Case states: a case is opened, then closed when the matter is done or withdrawn when
// the application is withdrawn. Both ends are final.
const (
	CaseOpen      CaseState = "open"
	CaseClosed    CaseState = "closed"
	CaseWithdrawn CaseState = "withdrawn"
)

// Party is a subject a case concerns besides its applicant (a spouse, a legal
// representative, a company's shareholder, a certificate the applicant states), declared
// when the case is opened.
type Party struct {
	Subject  string      // 公民身份号码, 统一社会信用代码 or certificate number
	Kind     SubjectKind // set by ClassifyParty
	Relation string      // e.g. 配偶, 法定代表人 (optional)
}

// CaseEvent is one step of a case's status history, with the signed request that made it.
type CaseEvent struct {
	Seq        int
	State      CaseState // the state the step led to
	By         string    // department code
	Comment    string
	At         time.Time
	Evidence   string
	BodyDigest string
}

// CaseMaterial is a material of the case's matter that was obtained without the applicant
// (免于提交), and how: a signed pull under a granted requirement, or a verified
// e-certificate from the registry (seed 004 Art. 21; seed 003 task 6).
type CaseMaterial struct {
	Material    string          // material id within the matter
	Name        string          // material name
	Source      ExemptionSource // sharing or ecertificate
	Requirement string          // sharing: the requirement pulled under
	PullID      string          // sharing: the pull's id
	AuditRefs   []uint64        // sharing: the pull's audit records
	Digest      string          // hex SM3 of the signed pull payload, or of the sealed e-certificate
	ECert       string          // ecertificate: the certificate identifier (GB/T 36904)
	Verdict     string          // ecertificate: the verification verdict (VALID, …)
	ObtainedAt  time.Time
	ObtainedBy  string // department code
}

// Case is a case (办件) a consuming department opened for one registered matter and one
// applicant (一企一事一码, seed 004 Art. 16(三)): its number is unique hub-wide; pulls name
// it, only for its matter, only for its applicant and declared parties, only while open.
type Case struct {
	Number        string // 办件编码
	Matter        string
	MatterVersion int
	Department    string // the department that opened and handles it
	Applicant     string
	ApplicantKind SubjectKind
	Parties       []Party
	Region        string // region of the case (default: the department's)
	State         CaseState
	OpenedAt      time.Time
	UpdatedAt     time.Time
	History       []CaseEvent
	Materials     []CaseMaterial
}

// MaxCaseParties bounds the related parties of one case: a case concerns a family or a
// company's officers, not a population.
const MaxCaseParties = 20

var caseNumberRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)

// ValidateCaseNumber checks a 办件编码: 3–64 letters, digits, '.', '_' or '-'.
func ValidateCaseNumber(n string) error {
	if !caseNumberRE.MatchString(n) {
		return Errorf(KindInvalid, "CASE_NUMBER_INVALID", "case number (办件编码) %q must be 3–64 letters, digits, '.', '_' or '-'", n)
	}
	return nil
}

// ClassifyParty returns the subject kind of a party key. Eighteen characters of digits and
// capital letters must be a valid 公民身份号码 or 统一社会信用代码 (a mistyped check character
// is refused, never taken for a certificate number); anything else must be a certificate
// number (4–64 capital letters, digits or '-').
func ClassifyParty(s string) (SubjectKind, error) {
	if k, err := ApplicantKind(s); err == nil {
		return k, nil
	} else if len(s) == 18 && strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') }) < 0 {
		return "", err
	}
	if err := ValidateSubject(SubjectCertificate, s); err != nil {
		return "", Errorf(KindInvalid, "PARTY_INVALID", "party %q is neither a 公民身份号码, a 统一社会信用代码 nor a certificate number (4–64 capital letters, digits or '-')", s)
	}
	return SubjectCertificate, nil
}

// OpenCase opens c for the registered matter it names (c.Matter), as by: the department
// must hold the consumer role and the matter must be registered (MATTER_UNKNOWN).
func OpenCase(ctx context.Context, matters MatterReader, c *Case, by Actor, now time.Time) error {
	if !by.Department.HasRole(RoleConsumer) {
		return Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role: only a department that handles matters opens cases", by.Department.Code)
	}
	m, err := matters.Get(ctx, strings.TrimSpace(c.Matter))
	if KindOf(err) == KindNotFound {
		return Errorf(KindInvalid, ReasonMatterUnknown, "matter %q is not a registered matter (事项目录): open cases for registered matters only (gxctl matter list)", c.Matter)
	} else if err != nil {
		return err
	}
	return c.Open(m, by, now)
}

// Open checks a new case and gives it its first state and history entry: c.Number,
// Matter, Applicant and Parties come from the request, m is the registered matter, by
// the opening department (it must hold the consumer role). The applicant must be a
// 公民身份号码 or 统一社会信用代码 with a correct check character.
func (c *Case) Open(m *Matter, by Actor, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	if !by.Department.HasRole(RoleConsumer) {
		return Errorf(KindPermissionDenied, "ROLE_REQUIRED", "department %s does not hold the consumer role: only a department that handles matters opens cases", by.Department.Code)
	}
	c.Number = strings.TrimSpace(c.Number)
	if err := ValidateCaseNumber(c.Number); err != nil {
		return err
	}
	if m == nil {
		return Errorf(KindInvalid, "MATTER_UNKNOWN", "case %s names no registered matter", c.Number)
	}
	c.Applicant = NormalizeSubject(c.Applicant)
	kind, err := ApplicantKind(c.Applicant)
	if err != nil {
		return err
	}
	if len(c.Parties) > MaxCaseParties {
		return Errorf(KindInvalid, "PARTIES_TOO_MANY", "case %s declares %d related parties; at most %d: a case concerns its applicant and the few people or companies its matter involves", c.Number, len(c.Parties), MaxCaseParties)
	}
	seen := map[string]bool{c.Applicant: true}
	for i := range c.Parties {
		p := &c.Parties[i]
		p.Subject, p.Relation = NormalizeSubject(p.Subject), strings.TrimSpace(p.Relation)
		if p.Kind, err = ClassifyParty(p.Subject); err != nil {
			return Wrap(KindInvalid, "PARTY_INVALID", err, "related party %d (%q): %v", i+1, p.Subject, err)
		}
		if seen[p.Subject] {
			return Errorf(KindInvalid, "PARTY_DUPLICATE", "related party %s is listed twice or is the applicant", p.Subject)
		}
		seen[p.Subject] = true
		if utf8.RuneCountInString(p.Relation) > 32 {
			return Errorf(KindInvalid, "TEXT_TOO_LONG", "the relation of party %s is at most 32 characters (e.g. 配偶, 法定代表人)", p.Subject)
		}
	}
	if c.Region == "" {
		c.Region = by.Department.Region
	}
	if !regionRE.MatchString(c.Region) {
		return Errorf(KindInvalid, "REGION_INVALID", "case region %q must be a 6-digit 行政区划代码", c.Region)
	}
	c.Matter, c.MatterVersion, c.ApplicantKind = m.Code, m.Version, kind
	c.Department, c.State, c.OpenedAt, c.UpdatedAt = by.Department.Code, CaseOpen, now, now
	c.History = []CaseEvent{{Seq: 1, State: CaseOpen, By: by.Department.Code, At: now, Evidence: by.Evidence, BodyDigest: by.BodyDigest}}
	return nil
}

// Covers reports whether subject is the case's applicant or one of its declared parties.
func (c *Case) Covers(subject string) bool {
	if subject == c.Applicant {
		return true
	}
	return slices.ContainsFunc(c.Parties, func(p Party) bool { return p.Subject == subject })
}

// VisibleTo reports whether d may read the case and its history: the department that
// opened it, a coordinator and an auditor (seed 004 Art. 16(三) monitoring).
func (c *Case) VisibleTo(d *Department) bool {
	return d.Code == c.Department || d.HasRole(RoleCoordinator) || d.HasRole(RoleAuditor)
}

// End closes or withdraws an open case (in place) and returns the state it was in and the
// history entry to append, for a compare-and-set store. Only the department that opened
// it ends it; a withdrawal says why.
func (c *Case) End(to CaseState, by Actor, comment string, now time.Time) (CaseState, CaseEvent, error) {
	now = now.UTC().Truncate(time.Microsecond)
	comment = strings.TrimSpace(comment)
	if by.Department.Code != c.Department {
		return "", CaseEvent{}, Errorf(KindPermissionDenied, "NOT_CASE_DEPARTMENT", "case %s is handled by %s: only that department closes or withdraws it", c.Number, c.Department)
	}
	if to != CaseClosed && to != CaseWithdrawn {
		return "", CaseEvent{}, Errorf(KindInvalid, "CASE_STATE_INVALID", "a case ends closed or withdrawn, not %q", to)
	}
	if c.State != CaseOpen {
		return "", CaseEvent{}, Errorf(KindFailedPrecondition, "CASE_NOT_OPEN", "case %s is already %s", c.Number, c.State)
	}
	if to == CaseWithdrawn && comment == "" {
		return "", CaseEvent{}, Errorf(KindInvalid, "COMMENT_REQUIRED", "say why case %s is withdrawn (comment)", c.Number)
	}
	if err := CheckText("comment", comment, MaxText); err != nil {
		return "", CaseEvent{}, err
	}
	from := c.State
	e := CaseEvent{Seq: len(c.History) + 1, State: to, By: by.Department.Code, Comment: comment, At: now, Evidence: by.Evidence, BodyDigest: by.BodyDigest}
	c.State, c.UpdatedAt = to, now
	c.History = append(slices.Clone(c.History), e)
	return from, e, nil
}

// OpenFor returns how long the case has been open at now in working days (calendar: the
// hub's working-day calendar), whether that is more than factor × the matter's time limit,
// and whether a day of a year not yet announced counted (provisional).
func (c *Case) OpenFor(cal WorkingTimer, m *Matter, factor float64, now time.Time) (days float64, overdue, provisional bool, err error) {
	if c.State != CaseOpen {
		return 0, false, false, nil
	}
	d, provisional, err := cal.WorkingTime(c.OpenedAt, now)
	if err != nil {
		return 0, false, false, err
	}
	days = d.Hours() / 24
	return days, m.TimeLimit > 0 && days > factor*float64(m.TimeLimit), provisional, nil
}

// String names the case for logs and messages.
func (c *Case) String() string {
	return fmt.Sprintf("case %s (matter %s, %s)", c.Number, c.Matter, c.State)
}
