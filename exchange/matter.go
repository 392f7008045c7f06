package exchange

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Matter is a registered government-service matter (政务服务事项) with the materials an
// applicant must provide (申请材料). The coordinator keeps the registry (REQUIREMENTS A8):
// requirements, cases and pulls name registered matters only. Each material names where the
// exchange can obtain it instead, so that the applicant is not asked for it (免于提交, A7).
type Matter struct {
	Code       string // 事项编码
	Name       string
	Department string // the department that handles the matter (办理部门)
	// LegalBasis is the document that sets up the matter (设定依据).
	LegalBasis LegalBasis
	// TimeLimit is the promised time to complete a case of the matter (承诺办结时限), in
	// working days. A case open far beyond it is flagged to auditors.
	TimeLimit int
	Materials []Material
	Version   int
	UpdatedAt time.Time
	UpdatedBy string // the coordinator that stored this version
}

// Material is one required material of a matter. It maps to a catalogue resource and the
// data items that carry it, or to an e-certificate type (电子证照类型代码), or to neither
// (then the applicant must submit it).
type Material struct {
	ID        string // stable within the matter, lower_snake_case
	Name      string // e.g. "营业执照"
	Resource  string // resource code, or ""
	Items     []string
	ECertType string // e-certificate type code, or ""
}

var matterCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)

// Validate checks the matter's own fields (not that resources exist).
func (m *Matter) Validate() error {
	bad := func(reason, format string, args ...any) error { return Errorf(KindInvalid, reason, format, args...) }
	if !matterCodeRE.MatchString(m.Code) {
		return bad("MATTER_CODE_INVALID", "matter code %q must be 3–64 letters, digits, '.', '_' or '-' (事项编码)", m.Code)
	}
	if strings.TrimSpace(m.Name) == "" {
		return bad("MATTER_NAME_MISSING", "matter %s needs a name", m.Code)
	}
	if err := CheckText("matter name", m.Name, MaxShortText); err != nil {
		return err
	}
	if blank(m.Department) {
		return bad("MATTER_DEPARTMENT_MISSING", "matter %s needs its handling department (办理部门, a department code)", m.Code)
	}
	m.LegalBasis = m.LegalBasis.Normalize()
	if err := m.LegalBasis.Validate("legal_basis of matter " + m.Code + " (设定依据)"); err != nil {
		return err
	}
	if m.TimeLimit < 1 || m.TimeLimit > 365 {
		return bad("MATTER_TIME_LIMIT_INVALID", "matter %s: the promised time limit (承诺办结时限) must be 1 to 365 working days, got %d", m.Code, m.TimeLimit)
	}
	if len(m.Materials) > 100 {
		return bad("MATERIALS_TOO_MANY", "matter %s lists %d materials; at most 100", m.Code, len(m.Materials))
	}
	if len(m.Materials) == 0 {
		return bad("MATERIALS_MISSING", "matter %s must list its required materials", m.Code)
	}
	seen := map[string]bool{}
	for _, mt := range m.Materials {
		if !itemNameRE.MatchString(mt.ID) {
			return bad("MATERIAL_ID_INVALID", "material id %q must be lower_snake_case (a-z, 0-9, _), at most 64 characters", mt.ID)
		}
		if seen[mt.ID] {
			return bad("MATERIAL_DUPLICATE", "material %q is listed twice", mt.ID)
		}
		seen[mt.ID] = true
		if strings.TrimSpace(mt.Name) == "" {
			return bad("MATERIAL_NAME_MISSING", "material %q needs a name", mt.ID)
		}
		if err := CheckText("material "+mt.ID+" name", mt.Name, MaxShortText); err != nil {
			return err
		}
		if mt.Resource == "" && len(mt.Items) > 0 {
			return bad("MATERIAL_ITEMS_WITHOUT_RESOURCE", "material %q lists data items but no resource: name the resource that holds them", mt.ID)
		}
		if mt.Resource != "" {
			if !resourceCodeRE.MatchString(mt.Resource) {
				return bad("RESOURCE_CODE_INVALID", "material %q: resource code %q is malformed", mt.ID, mt.Resource)
			}
			if len(mt.Items) == 0 {
				return bad("MATERIAL_ITEMS_MISSING", "material %q maps to resource %s: list the data items that carry it", mt.ID, mt.Resource)
			}
		}
	}
	return nil
}

// RequireRegistered checks that every matter code names a registered matter (REQUIREMENTS
// A8): a requirement binds data to registered matters only.
func RequireRegistered(ctx context.Context, matters MatterReader, codes []string) error {
	for _, code := range codes {
		_, err := matters.Get(ctx, code)
		if KindOf(err) == KindNotFound {
			return Errorf(KindInvalid, ReasonMatterUnknown, "matter %q is not a registered matter (事项目录): bind requirements to registered matters only (gxctl matter list), or ask the coordinator to register it", code)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
