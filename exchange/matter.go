package exchange

import (
	"regexp"
	"strings"
	"time"
)

// Matter is a government-service matter (政务服务事项) with the materials an applicant
// must provide (申请材料). Each material names where the exchange can obtain it instead,
// so that the applicant is not asked for it (免于提交, REQUIREMENTS A7).
type Matter struct {
	Code       string // 事项编码
	Name       string
	Department string // the department that handles the matter and defined it
	Materials  []Material
	Version    int
	UpdatedAt  time.Time
	UpdatedBy  string
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
