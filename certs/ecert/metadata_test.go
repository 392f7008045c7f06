package ecert

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The two example numbers printed in GB 11643-1999 itself.
const (
	citizenA = "11010519491231002X"
	citizenB = "440524188001010014"
	issuer   = "11330105002500287C"
	company  = "11430000006122244L"
)

func TestCheckCitizenID(t *testing.T) {
	cases := []struct{ id, want string }{
		{citizenA, ""},
		{citizenB, ""},
		{"110105194912310021", "mistyped"},
		{"11010519491331002X", "not a birth date"},
		{"1101051949123100", "18 characters"},
		{"1101051949A231002X", "must be a digit"},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			err := CheckCitizenID(tc.id)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.NoError(t, CheckHolderCode(HolderOrganization, company))
	require.ErrorContains(t, CheckHolderCode(HolderOrganization, citizenA), "check character")
	require.ErrorContains(t, CheckHolderCode("999", company), "unknown holder code type")
}

func TestCatalogue(t *testing.T) {
	cat, err := DemoCatalogue()
	require.NoError(t, err)
	types := cat.Types()
	require.Len(t, types, 3)
	names := []string{}
	for _, ty := range types {
		names = append(names, ty.Name)
		require.NoError(t, ty.Validate())
		require.Len(t, ty.DefinerCode(), 18)
	}
	require.ElementsMatch(t, []string{"营业执照", "居民身份证明", "学历证明"}, names)

	// round trip through JSON
	b, err := json.Marshal(cat)
	require.NoError(t, err)
	again, err := LoadCatalogue(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, cat.Types(), again.Types())

	// Lookup returns a copy
	ty, ok := cat.Lookup(types[0].Code)
	require.True(t, ok)
	ty.Items[0].Name = "changed"
	ty2, _ := cat.Lookup(types[0].Code)
	require.NotEqual(t, "changed", ty2.Items[0].Name)
	_, ok = cat.Lookup("nope")
	require.False(t, ok)

	good := CertType{Code: "11100000000013338W032", Name: "建设工程企业资质证书", DefinerName: "住房和城乡建设部", HolderType: HolderOrganization,
		Items: []ItemSpec{{Key: "grade", Name: "资质等级", Required: true}}}
	cases := []struct {
		name string
		edit func(*CertType)
		want string
	}{
		{"duplicate code", func(c *CertType) { c.Code = types[0].Code }, "already catalogued"},
		{"bad type code", func(c *CertType) { c.Code = "11100000000013338W32" }, "21 characters"},
		{"bad definer", func(c *CertType) { c.Code = "11100000000013338A032" }, "definer code"},
		{"no name", func(c *CertType) { c.Name = " " }, "name and definer name"},
		{"unknown holder type", func(c *CertType) { c.HolderType = "222" }, "unknown holder type"},
		{"item without key", func(c *CertType) { c.Items = []ItemSpec{{Name: "x"}} }, "needs a key"},
		{"duplicate item", func(c *CertType) { c.Items = append(c.Items, c.Items[0]) }, "appears twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Items = append([]ItemSpec(nil), good.Items...)
			tc.edit(&c)
			require.ErrorContains(t, cat.Add(c), tc.want)
		})
	}
	require.NoError(t, cat.Add(good))
	require.Len(t, cat.Types(), 4)

	_, err = LoadCatalogue(strings.NewReader(`[{"code":"x","bogus":1}]`))
	require.ErrorContains(t, err, "unknown field")
	_, err = LoadCatalogue(strings.NewReader(`[{"code":"x"}]`))
	require.ErrorContains(t, err, "21 characters")
}

// newLicence builds a valid 营业执照 from the demo catalogue.
func newLicence(t *testing.T) (*Catalogue, *Metadata) {
	t.Helper()
	cat, err := DemoCatalogue()
	require.NoError(t, err)
	var bl CertType
	for _, ty := range cat.Types() {
		if ty.Name == "营业执照" {
			bl = ty
		}
	}
	id, err := NewIdentifier(bl.Code, issuer, "2026000123", 1)
	require.NoError(t, err)
	m, err := NewMetadata(bl, id)
	require.NoError(t, err)
	m.Number = "330106000123456"
	m.IssuerName = "杭州市西湖区市场监督管理局"
	m.IssueDate = Date{2026, time.March, 2}
	m.HolderName = "杭州某某科技有限公司"
	m.HolderCode = company
	m.ValidFrom = Date{2026, time.March, 2}
	m.AreaCode = "330106"
	m.Items = map[string]string{
		"entity_name":          "杭州某某科技有限公司",
		"entity_type":          "有限责任公司",
		"legal_representative": "张三",
		"established_on":       "2026-03-02",
		"domicile":             "浙江省杭州市西湖区文三路1号",
		"business_scope":       "软件开发",
	}
	m.Extensions = map[string]string{"unified_code_check": "pass"}
	return cat, m
}

func TestMetadataValidate(t *testing.T) {
	cat, m := newLicence(t)
	require.NoError(t, m.Validate(cat))

	cases := []struct {
		name string
		edit func(*Metadata)
		want []string
	}{
		{"altered identifier", func(m *Metadata) { m.Identifier = strings.Replace(m.Identifier, "2026000123", "2026000124", 1) }, []string{"check character"}},
		{"identifier of another issuer", func(m *Metadata) { m.IssuerCode = company }, []string{"differs from certificate_issuing_authority_code"}},
		{"version mismatch", func(m *Metadata) { m.Version = "002" }, []string{"differs from certificate_version"}},
		{"type not catalogued", func(m *Metadata) { m.TypeCode = "11100000000013338W011" }, []string{"not in the catalogue", "differs from certificate_type_code"}},
		{"wrong type name", func(m *Metadata) { m.TypeName = "营业证" }, []string{"catalogued name"}},
		{"wrong definer", func(m *Metadata) { m.DefinerName = "别的部门" }, []string{"definer"}},
		{"citizen holder type on company licence", func(m *Metadata) {
			m.HolderType, m.HolderTypeName, m.HolderCode = HolderCitizen, HolderCitizen.Name(), citizenA
		}, []string{"holder type \"111\" is not the type's"}},
		{"holder type name", func(m *Metadata) { m.HolderTypeName = "身份证" }, []string{"does not name holder type"}},
		{"bad holder code", func(m *Metadata) { m.HolderCode = company[:17] + "M" }, []string{"holder code"}},
		{"missing required item", func(m *Metadata) { delete(m.Items, "legal_representative") }, []string{"required item legal_representative"}},
		{"unknown item", func(m *Metadata) { m.Items["shoe_size"] = "42" }, []string{"\"shoe_size\" is not an item"}},
		{"empty number and holder", func(m *Metadata) { m.Number, m.HolderName = "", "" }, []string{"certificate_number", "certificate_holder_name"}},
		{"no issue date", func(m *Metadata) { m.IssueDate = Date{} }, []string{"certificate_issuing_date"}},
		{"ends before start", func(m *Metadata) { m.ValidUntil = Date{2026, time.March, 1} }, []string{"before it starts"}},
		{"area code", func(m *Metadata) { m.AreaCode = "33010" }, []string{"6-digit"}},
		{"extension key", func(m *Metadata) { m.Extensions["bad key"] = "x" }, []string{"extension key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, m := newLicence(t)
			tc.edit(m)
			err := m.Validate(cat)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	require.ErrorContains(t, m.Validate(nil), "no licence catalogue")

	t.Run("new metadata for another type's identifier", func(t *testing.T) {
		ty := cat.Types()[1]
		id, err := ParseIdentifier(m.Identifier)
		require.NoError(t, err)
		_, err = NewMetadata(ty, id)
		require.ErrorContains(t, err, "is not the type's code")
	})
}

func TestMetadataEncoding(t *testing.T) {
	cat, m := newLicence(t)
	b, err := m.CanonicalJSON()
	require.NoError(t, err)
	require.Contains(t, string(b), `"certificate_issuing_date":"2026-03-02"`)
	require.Contains(t, string(b), `"certificate_validate_end":null`)
	var back Metadata
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, *m, back)
	require.NoError(t, back.Validate(cat))
	b2, err := back.CanonicalJSON()
	require.NoError(t, err)
	require.Equal(t, b, b2, "canonical JSON must be stable")

	// the national catalogue's compact dates are accepted on input
	var d struct{ D Date }
	require.NoError(t, json.Unmarshal([]byte(`{"D":"20260302"}`), &d))
	require.Equal(t, Date{2026, time.March, 2}, d.D)
	require.Error(t, json.Unmarshal([]byte(`{"D":"2026-13-02"}`), &d))
	require.Error(t, json.Unmarshal([]byte(`{"D":5}`), &d))

	cd := m.CustomData()
	got := map[string]string{}
	for _, c := range cd {
		got[c.Name] = c.Value
	}
	require.Equal(t, "营业执照", got["ZZMC"])
	require.Equal(t, m.Identifier, got["ZZBS"])
	require.Equal(t, "20260302", got["ZZBFRQ"])
	require.Equal(t, "长期", got["ZZYXQJZRQ"])
	require.Equal(t, "001", got["CZZTDMLXDM"])
	require.Equal(t, "统一社会信用代码", got["CZZTDMLX"])
	require.Equal(t, "pass", got["KZ_UNIFIED_CODE_CHECK"])
	require.Equal(t, "ZZMC", cd[0].Name, "order is fixed")
}

func TestValidOn(t *testing.T) {
	_, m := newLicence(t)
	require.False(t, m.ValidOn(Date{2026, time.March, 1}))
	require.True(t, m.ValidOn(Date{2026, time.March, 2}))
	require.True(t, m.ValidOn(Date{2099, time.January, 1}), "no end date")
	m.ValidUntil = Date{2027, time.March, 1}
	require.True(t, m.ValidOn(Date{2027, time.March, 1}), "the last day is included")
	require.False(t, m.ValidOn(Date{2027, time.March, 2}))
	require.Equal(t, Date{2026, time.March, 2}, DateOf(time.Date(2026, 3, 2, 23, 59, 0, 0, time.FixedZone("CST", 8*3600))))
	d, err := ParseDate("2026-03-02")
	require.NoError(t, err)
	require.Equal(t, "2026-03-02", d.String())
	require.Equal(t, "", Date{}.String())
}
