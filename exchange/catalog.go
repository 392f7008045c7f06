package exchange

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ShareType is a resource's sharing class (共享类型).
type ShareType string

// Share types. Sharing is the rule and refusal the exception: only a resource registered
// as not shared needs, and must cite, a legal basis.
const (
	ShareUnconditional ShareType = "unconditional" // 无条件共享: granted at once, the provider cannot refuse
	ShareConditional   ShareType = "conditional"   // 有条件共享: reviewed and answered within working-day deadlines
	ShareNotShared     ShareType = "not_shared"    // 不予共享: only with a cited legal basis
)

// Sensitivity classifies a data item.
type Sensitivity string

// Sensitivities.
const (
	SensitivityPublic            Sensitivity = "public"
	SensitivityInternal          Sensitivity = "internal"
	SensitivityPersonal          Sensitivity = "personal"
	SensitivitySensitivePersonal Sensitivity = "sensitive_personal"
)

// ProvisionMethod is how a provider supplies a resource (提供方式).
type ProvisionMethod string

// Provision methods.
const (
	ProvisionPullAPI      ProvisionMethod = "pull_api"
	ProvisionSubscription ProvisionMethod = "subscription"
	ProvisionBatchFile    ProvisionMethod = "batch_file"
)

// UpdateCycle is the provider's declared update cycle (更新周期).
type UpdateCycle string

// Update cycles, with the staleness they allow in working days (real-time resources
// keep a heartbeat and may be at most the default limit stale).
const (
	CycleRealtime UpdateCycle = "realtime"
	CycleDaily    UpdateCycle = "daily"
	CycleWeekly   UpdateCycle = "weekly"
	CycleMonthly  UpdateCycle = "monthly"
)

// SubjectKind names the key records of a resource are keyed by.
type SubjectKind string

// Subject kinds.
const (
	SubjectIDNumber    SubjectKind = "id_number"          // 公民身份号码 (GB 11643)
	SubjectUSCC        SubjectKind = "uscc"               // 统一社会信用代码 (GB 32100)
	SubjectCertificate SubjectKind = "certificate_number" // a certificate or licence number
)

// DataItem is one field of a resource (数据项).
type DataItem struct {
	Name        string // stable identifier, e.g. "legal_representative"
	Title       string // 中文名称, e.g. "法定代表人"
	Type        string // string, date, number, boolean
	Description string
	Sensitivity Sensitivity
	// Mask is the masking rule (脱敏) applied unless a requirement approves clear text
	// (MaskRule: empty means full masking for personal items, none for the others).
	Mask MaskRule `json:",omitempty"`
}

// Resource is a catalogue entry (政务数据资源目录): what a provider holds and on which
// terms it shares it. Every change is a new Version; earlier versions stay readable.
type Resource struct {
	Code            string // unique, e.g. "500000-SCJG-0001"
	Name            string
	Provider        string // provider department code
	Description     string
	Items           []DataItem
	SubjectKind     SubjectKind
	ShareType       ShareType
	Condition       string     // for conditional sharing: the condition a requirement must meet
	LegalBasis      LegalBasis // for not_shared: the law, regulation or rule that forbids sharing
	UpdateCycle     UpdateCycle
	ProvisionMethod ProvisionMethod
	ScopeRegion     string // 6-digit region the data covers
	ScopeLevel      Level
	// FreshnessLimit is how many working days the data may be stale (default 1; never
	// looser than the update cycle allows).
	FreshnessLimit int
	// ObjectionDays is how many working days the provider has to answer an objection to
	// one of its records (0: the hub's configured default).
	ObjectionDays int
	// Withdrawn is set on the version that withdrew the resource from the catalogue: no
	// requirement can be filed for it and nothing is pulled from it.
	Withdrawn bool
	Version   int
	UpdatedAt time.Time
	UpdatedBy string // department code of the change
	// Published reports whether the provider has published data for the resource yet
	// (set by the publishing side; not part of a version). An unpublished resource gives
	// the provider a longer answer deadline for conditional requirements.
	Published   bool
	PublishedAt time.Time // first publish; zero when not published
}

var resourceCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)
var itemNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// MaxFreshness returns the loosest freshness limit (working days) the update cycle allows.
func (c UpdateCycle) MaxFreshness() int {
	switch c {
	case CycleWeekly:
		return 5
	case CycleMonthly:
		return 22
	default: // realtime, daily
		return 1
	}
}

// Item returns the data item with the name.
func (r *Resource) Item(name string) (DataItem, bool) {
	i := slices.IndexFunc(r.Items, func(d DataItem) bool { return d.Name == name })
	if i < 0 {
		return DataItem{}, false
	}
	return r.Items[i], true
}

// Validate checks a resource registration. It fills defaults (FreshnessLimit 1).
func (r *Resource) Validate() error {
	bad := func(reason, format string, args ...any) error { return Errorf(KindInvalid, reason, format, args...) }
	if !resourceCodeRE.MatchString(r.Code) {
		return bad("RESOURCE_CODE_INVALID", "resource code %q must be 3–64 letters, digits, '.', '_' or '-'", r.Code)
	}
	if strings.TrimSpace(r.Name) == "" {
		return bad("RESOURCE_NAME_MISSING", "resource %s needs a name", r.Code)
	}
	if err := checkTexts(MaxShortText, "name", r.Name); err != nil {
		return err
	}
	if err := checkTexts(MaxText, "description", r.Description, "condition", r.Condition); err != nil {
		return err
	}
	if len(r.Items) == 0 {
		return bad("DATA_ITEMS_MISSING", "resource %s must list its data items", r.Code)
	}
	seen := map[string]bool{}
	for _, it := range r.Items {
		if !itemNameRE.MatchString(it.Name) {
			return bad("DATA_ITEM_INVALID", "data item name %q must be lower_snake_case (a-z, 0-9, _), at most 64 characters", it.Name)
		}
		if seen[it.Name] {
			return bad("DATA_ITEM_DUPLICATE", "data item %q is listed twice", it.Name)
		}
		if err := checkTexts(MaxShortText, "data item "+it.Name+" title", it.Title, "data item "+it.Name+" type", it.Type); err != nil {
			return err
		}
		if err := CheckText("data item "+it.Name+" description", it.Description, MaxText); err != nil {
			return err
		}
		seen[it.Name] = true
		switch it.Sensitivity {
		case SensitivityPublic, SensitivityInternal, SensitivityPersonal, SensitivitySensitivePersonal:
		default:
			return bad("SENSITIVITY_INVALID", "data item %q: sensitivity must be public, internal, personal or sensitive_personal", it.Name)
		}
		if err := it.validateMask(); err != nil {
			return err
		}
	}
	switch r.SubjectKind {
	case SubjectIDNumber, SubjectUSCC, SubjectCertificate:
	default:
		return bad("SUBJECT_KIND_INVALID", "subject kind must be id_number, uscc or certificate_number")
	}
	switch r.ShareType {
	case ShareUnconditional:
	case ShareConditional:
		if strings.TrimSpace(r.Condition) == "" {
			return bad("CONDITION_MISSING", "a conditionally shared resource must state its sharing condition")
		}
	case ShareNotShared:
		r.LegalBasis = r.LegalBasis.Normalize()
		if err := r.LegalBasis.Validate("legal_basis of a resource that is not shared (不予共享)"); err != nil {
			return err
		}
	default:
		return bad("SHARE_TYPE_INVALID", "share type must be unconditional, conditional or not_shared")
	}
	switch r.UpdateCycle {
	case CycleRealtime, CycleDaily, CycleWeekly, CycleMonthly:
	default:
		return bad("UPDATE_CYCLE_INVALID", "update cycle must be realtime, daily, weekly or monthly")
	}
	switch r.ProvisionMethod {
	case ProvisionPullAPI, ProvisionSubscription, ProvisionBatchFile:
	default:
		return bad("PROVISION_METHOD_INVALID", "provision method must be pull_api, subscription or batch_file")
	}
	if !regionRE.MatchString(r.ScopeRegion) {
		return bad("REGION_INVALID", "scope region %q must be a 6-digit 行政区划代码", r.ScopeRegion)
	}
	if r.FreshnessLimit == 0 {
		r.FreshnessLimit = 1
	}
	if r.FreshnessLimit < 1 || r.FreshnessLimit > r.UpdateCycle.MaxFreshness() {
		return bad("FRESHNESS_LIMIT_INVALID", "freshness limit %d working days is outside 1..%d allowed by the %s update cycle",
			r.FreshnessLimit, r.UpdateCycle.MaxFreshness(), r.UpdateCycle)
	}
	if r.ObjectionDays < 0 || r.ObjectionDays > 60 {
		return bad("OBJECTION_DAYS_INVALID", "objection answer deadline %d must be 1 to 60 working days (0 for the hub's default)", r.ObjectionDays)
	}
	if r.ShareType != ShareNotShared && !r.LegalBasis.IsZero() {
		r.LegalBasis = r.LegalBasis.Normalize()
		if err := r.LegalBasis.Validate("legal_basis"); err != nil {
			return err
		}
	}
	return nil
}

// shareRank orders share types from the widest (0) to the narrowest.
func shareRank(t ShareType) int {
	switch t {
	case ShareUnconditional:
		return 0
	case ShareConditional:
		return 1
	}
	return 2
}

var sensitivityRank = map[Sensitivity]int{SensitivityPublic: 0, SensitivityInternal: 1, SensitivityPersonal: 2, SensitivitySensitivePersonal: 3}

// Narrowing lists, in words, how next shares less than cur: a share type towards 有条件共享
// or 不予共享, a changed sharing condition, data items removed or made more sensitive, a
// smaller scope, or the withdrawal of the resource. An empty list means next shares at
// least as much. Narrowing a resource on which requirements are granted is a proposal the
// coordinator decides (CatalogChange), never a unilateral edit (REQUIREMENTS A10).
func Narrowing(cur, next *Resource) []string {
	var out []string
	if next.Withdrawn && !cur.Withdrawn {
		out = append(out, "withdraws the resource from the catalogue")
	}
	if shareRank(next.ShareType) > shareRank(cur.ShareType) {
		out = append(out, fmt.Sprintf("share type %s → %s", cur.ShareType, next.ShareType))
	} else if next.ShareType == ShareConditional && cur.ShareType == ShareConditional && strings.TrimSpace(next.Condition) != strings.TrimSpace(cur.Condition) {
		out = append(out, "changes the sharing condition")
	}
	for _, it := range cur.Items {
		n, ok := next.Item(it.Name)
		switch {
		case !ok:
			out = append(out, "removes data item "+it.Name)
		case sensitivityRank[n.Sensitivity] > sensitivityRank[it.Sensitivity]:
			out = append(out, fmt.Sprintf("restricts data item %s (%s → %s)", it.Name, it.Sensitivity, n.Sensitivity))
		}
	}
	if !RegionCovers(next.ScopeRegion, cur.ScopeRegion) {
		out = append(out, fmt.Sprintf("shrinks the scope %s → %s", cur.ScopeRegion, next.ScopeRegion))
	}
	return out
}

// RegionCovers reports whether scope (a 6-digit 行政区划代码) covers region: 500000 covers
// 500112, 500100 covers 500112, 500112 covers only itself; an empty scope covers everything.
func RegionCovers(scope, region string) bool {
	if scope == "" {
		return true
	}
	if len(scope) != 6 || len(region) != 6 {
		return false
	}
	p := strings.TrimRight(scope[2:], "0")
	prefix := scope[:2] + p
	if len(p)%2 == 1 {
		prefix += "0"
	}
	return strings.HasPrefix(region, prefix)
}
