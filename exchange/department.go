package exchange

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Level is a department's administrative level.
type Level int

// Administrative levels.
const (
	LevelUnspecified Level = iota
	LevelNational
	LevelProvincial
	LevelMunicipal
	LevelCounty
	LevelTownship
)

var levelNames = []string{"unspecified", "national", "provincial", "municipal", "county", "township"}

func (l Level) String() string {
	if int(l) >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// ParseLevel parses a level name (national, provincial, municipal, county, township).
func ParseLevel(s string) (Level, error) {
	i := slices.Index(levelNames, strings.ToLower(strings.TrimSpace(s)))
	if i <= 0 {
		return 0, Errorf(KindInvalid, "LEVEL_INVALID", "unknown level %q: use one of national, provincial, municipal, county, township", s)
	}
	return Level(i), nil
}

// Role is a role a department holds in the exchange.
type Role string

// Department roles.
const (
	RoleCoordinator Role = "coordinator" // 政务数据主管部门: arbitrates, registers departments
	RoleProvider    Role = "provider"    // 数据提供部门
	RoleConsumer    Role = "consumer"    // 数据需求部门
	RoleIssuer      Role = "issuer"      // issues e-certificates and seals
	RoleAuditor     Role = "auditor"     // reads the audit trail
)

// Roles lists every role.
var Roles = []Role{RoleCoordinator, RoleProvider, RoleConsumer, RoleIssuer, RoleAuditor}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", Errorf(KindInvalid, "ROLE_INVALID", "unknown role %q: use one of coordinator, provider, consumer, issuer, auditor", s)
	}
	return r, nil
}

// Department is a registered government department. Its Code is the 统一社会信用代码
// (GB 32100). The hub's CA issues its SM2 signing certificate; requests it signs are
// verified against that certificate.
type Department struct {
	Code         string
	Name         string
	Level        Level
	Region       string // 6-digit 行政区划代码 (GB/T 2260)
	Roles        []Role
	Certificate  []byte // DER of the current signing certificate
	CertSerial   string // hex serial of Certificate
	RegisteredAt time.Time
}

// HasRole reports whether d holds role r.
func (d *Department) HasRole(r Role) bool { return slices.Contains(d.Roles, r) }

var regionRE = regexp.MustCompile(`^[1-9][0-9]{5}$`)

// Validate checks the department's fields (not its certificate).
func (d *Department) Validate() error {
	if err := ValidateUSCC(d.Code); err != nil {
		return Wrap(KindInvalid, "DEPARTMENT_CODE_INVALID", err, "department code %q is not a valid 统一社会信用代码: %v", d.Code, err)
	}
	if n := strings.TrimSpace(d.Name); n == "" || len([]rune(n)) > 128 {
		return Errorf(KindInvalid, "DEPARTMENT_NAME_INVALID", "department name must be 1 to 128 characters")
	}
	if d.Level <= LevelUnspecified || d.Level > LevelTownship {
		return Errorf(KindInvalid, "LEVEL_INVALID", "department level must be national, provincial, municipal, county or township")
	}
	if !regionRE.MatchString(d.Region) {
		return Errorf(KindInvalid, "REGION_INVALID", "region %q must be a 6-digit 行政区划代码 such as 110000 or 500112", d.Region)
	}
	if len(d.Roles) == 0 {
		return Errorf(KindInvalid, "ROLE_MISSING", "a department needs at least one role (provider, consumer, issuer, auditor, coordinator)")
	}
	seen := map[Role]bool{}
	for _, r := range d.Roles {
		if !slices.Contains(Roles, r) {
			return Errorf(KindInvalid, "ROLE_INVALID", "unknown role %q", r)
		}
		if seen[r] {
			return Errorf(KindInvalid, "ROLE_DUPLICATE", "role %q listed twice", r)
		}
		seen[r] = true
	}
	return nil
}
