package ecert

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gxhub/gxhub/certs/pki"
)

// HolderType is the holder code type (持证主体代码类型代码, GB/T 36903).
type HolderType string

// Holder code types.
const (
	// HolderOrganization: the holder is identified by its 统一社会信用代码.
	HolderOrganization HolderType = "001"
	// HolderCitizen: the holder is identified by a 公民身份号码 (GB 11643).
	HolderCitizen HolderType = "111"
)

// Name returns the Chinese name of the holder code type, or "" when unknown.
func (h HolderType) Name() string {
	switch h {
	case HolderOrganization:
		return "统一社会信用代码"
	case HolderCitizen:
		return "公民身份号码"
	}
	return ""
}

// CheckHolderCode checks a holder's code for its type: the GB 32100 check character of a
// USCC, or the GB 11643 check digit and birth date of a citizen identity number.
func CheckHolderCode(t HolderType, code string) error {
	switch t {
	case HolderOrganization:
		return pki.CheckUSCC(code)
	case HolderCitizen:
		return CheckCitizenID(code)
	}
	return fmt.Errorf("unknown holder code type %q (use %q for a USCC or %q for a citizen identity number)", t, HolderOrganization, HolderCitizen)
}

var citizenWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CheckCitizenID checks an 18-character 公民身份号码 (GB 11643-1999): 17 digits, a
// plausible birth date (positions 7-14) and the MOD 11-2 check character (0-9 or X).
func CheckCitizenID(id string) error {
	if len(id) != 18 {
		return fmt.Errorf("a citizen identity number has 18 characters, got %d", len(id))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		if id[i] < '0' || id[i] > '9' {
			return fmt.Errorf("citizen identity number: character %d must be a digit", i+1)
		}
		sum += int(id[i]-'0') * citizenWeights[i]
	}
	birth, err := time.Parse("20060102", id[6:14])
	if err != nil || birth.Year() < 1880 {
		return fmt.Errorf("citizen identity number: %q is not a birth date", id[6:14])
	}
	want := "10X98765432"[sum%11]
	if id[17] != want {
		return fmt.Errorf("citizen identity number ends in %q, GB 11643 gives %q: the number is mistyped", id[17], want)
	}
	return nil
}

// ItemSpec is one information item (证照信息项, the licence face) of a licence type.
type ItemSpec struct {
	// Key is the item's stable key in Metadata.Items (e.g. "legal_representative").
	Key string `json:"key"`
	// Name is the item's Chinese name (e.g. 法定代表人).
	Name string `json:"name"`
	// Required items must be present and non-empty in every licence of the type.
	Required bool `json:"required,omitempty"`
}

// CertType is a catalogued licence type (证照类型).
type CertType struct {
	// Code is the type code (证照类型代码): the definer's USCC + 3 digits.
	Code string `json:"code"`
	// Name is the type name (证照类型名称), e.g. 营业执照.
	Name string `json:"name"`
	// DefinerName is the defining authority's name (证照定义机构名称).
	DefinerName string `json:"definer_name"`
	// HolderType says how holders are identified.
	HolderType HolderType `json:"holder_type"`
	// Items are the information items of the licence face.
	Items []ItemSpec `json:"items"`
}

// DefinerCode is the defining authority's USCC (the first 18 characters of Code).
func (t CertType) DefinerCode() string { return DefinerCode(t.Code) }

// Validate checks the type's code, names, holder type and items.
func (t CertType) Validate() error {
	if err := CheckTypeCode(t.Code); err != nil {
		return err
	}
	if strings.TrimSpace(t.Name) == "" || strings.TrimSpace(t.DefinerName) == "" {
		return fmt.Errorf("licence type %s: name and definer name are required", t.Code)
	}
	if t.HolderType.Name() == "" {
		return fmt.Errorf("licence type %s (%s): unknown holder type %q", t.Code, t.Name, t.HolderType)
	}
	seen := map[string]bool{}
	for i, it := range t.Items {
		if it.Key == "" || it.Name == "" {
			return fmt.Errorf("licence type %s (%s): item %d needs a key and a name", t.Code, t.Name, i+1)
		}
		if seen[it.Key] {
			return fmt.Errorf("licence type %s (%s): item key %q appears twice", t.Code, t.Name, it.Key)
		}
		seen[it.Key] = true
	}
	return nil
}

func (t CertType) item(key string) (ItemSpec, bool) {
	for _, it := range t.Items {
		if it.Key == key {
			return it, true
		}
	}
	return ItemSpec{}, false
}

// Catalogue is a set of licence types, safe for concurrent use.
type Catalogue struct {
	mu    sync.RWMutex
	types map[string]CertType
}

// NewCatalogue makes a catalogue of the given types.
func NewCatalogue(types ...CertType) (*Catalogue, error) {
	c := &Catalogue{types: map[string]CertType{}}
	for _, t := range types {
		if err := c.Add(t); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// LoadCatalogue reads a catalogue from a JSON array of CertType.
func LoadCatalogue(r io.Reader) (*Catalogue, error) {
	var types []CertType
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&types); err != nil {
		return nil, fmt.Errorf("load licence catalogue: %w", err)
	}
	c, err := NewCatalogue(types...)
	if err != nil {
		return nil, fmt.Errorf("load licence catalogue: %w", err)
	}
	return c, nil
}

// Add validates t and adds it; a type code may be added only once.
func (c *Catalogue) Add(t CertType) error {
	if err := t.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.types[t.Code]; ok {
		return fmt.Errorf("licence type code %s is already catalogued (%s)", t.Code, old.Name)
	}
	t.Items = slices.Clone(t.Items)
	c.types[t.Code] = t
	return nil
}

// Lookup returns the type with the given code.
func (c *Catalogue) Lookup(code string) (CertType, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.types[code]
	if ok {
		t.Items = slices.Clone(t.Items)
	}
	return t, ok
}

// Types returns all types ordered by code.
func (c *Catalogue) Types() []CertType {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]CertType, 0, len(c.types))
	for _, t := range c.types {
		t.Items = slices.Clone(t.Items)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b CertType) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// MarshalJSON encodes the catalogue as the JSON array LoadCatalogue reads.
func (c *Catalogue) MarshalJSON() ([]byte, error) { return json.Marshal(c.Types()) }

//go:embed demo_catalogue.json
var demoCatalogueJSON []byte

// DemoCatalogue returns the demonstration catalogue: 营业执照, 居民身份证明 and 学历证明.
// Its definer codes are FICTITIOUS (valid GB 32100 check characters, prefix 119999990…),
// chosen so that no real authority is impersonated; real deployments load their province's
// catalogue with LoadCatalogue.
func DemoCatalogue() (*Catalogue, error) {
	c, err := LoadCatalogue(bytes.NewReader(demoCatalogueJSON))
	if err != nil {
		return nil, fmt.Errorf("embedded demo catalogue: %w", err)
	}
	return c, nil
}
