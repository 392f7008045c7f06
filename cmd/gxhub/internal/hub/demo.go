package hub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk/identity"
)

// DemoDepartment is one department of the demo set.
type DemoDepartment struct {
	OrgCode string // first 8 characters of the GB 11714 organisation code
	Name    string
	Level   exchange.Level
	Region  string
	Roles   []exchange.Role
}

// DemoDepartments is a municipal data-sharing scene in 重庆市: the coordinator, the
// providers citizens are most often sent to for paper, and an audit office.
var DemoDepartments = []DemoDepartment{
	{"00000001", "重庆市大数据应用发展管理局", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleCoordinator, exchange.RoleAuditor}},
	{"00000002", "重庆市市场监督管理局", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleProvider, exchange.RoleConsumer, exchange.RoleIssuer}},
	{"00000003", "重庆市公安局", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleProvider, exchange.RoleConsumer}},
	{"00000004", "重庆市不动产登记中心", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleProvider, exchange.RoleConsumer, exchange.RoleIssuer}},
	{"00000005", "重庆市住房公积金管理中心", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleConsumer, exchange.RoleProvider}},
	{"00000006", "重庆市民政局", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleProvider, exchange.RoleConsumer, exchange.RoleIssuer}},
	{"00000007", "重庆市审计局", exchange.LevelProvincial, "500000", []exchange.Role{exchange.RoleAuditor}},
	{"00000008", "重庆市渝北区政务服务管理办公室", exchange.LevelCounty, "500112", []exchange.Role{exchange.RoleConsumer}},
}

// Code returns the department's 统一社会信用代码: 1 (机构编制) 1 (机关), the region, the
// organisation code with its GB 11714 check digit, and the GB 32100 check character.
func (d DemoDepartment) Code() (string, error) {
	return exchange.NewUSCC("11", d.Region, d.OrgCode)
}

// SeedDemo registers the demo departments (idempotently) and writes each one's identity
// to DATA_DIR/demo/<code>/ so gxctl --identity can act as it. A department whose identity
// directory was lost gets a new key and certificate.
func (h *Hub) SeedDemo(ctx context.Context, hubURL string) ([]string, error) {
	var tlsCA []byte
	if h.TLS != nil {
		b, err := os.ReadFile(TLSFiles{Dir: filepath.Join(h.Config.DataDir, "tls")}.CACert())
		if err != nil {
			return nil, err
		}
		tlsCA = b
	}
	var dirs []string
	for i, dd := range DemoDepartments {
		code, err := dd.Code()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(h.Config.DataDir, "demo", code)
		existing, getErr := h.Store.Departments().Get(ctx, code)
		if getErr == nil {
			if id, err := identity.Load(dir, nil); err == nil && string(id.CertPEM) == string(pemCertDER(existing.Certificate)) {
				// Keep the identity; refresh the hub URL and TLS trust in case they changed.
				id.HubURL, id.TLSCAPEM = hubURL, tlsCA
				if err := id.Save(dir, nil); err != nil {
					return nil, err
				}
				dirs = append(dirs, dir)
				continue
			}
		} else if exchange.KindOf(getErr) != exchange.KindNotFound {
			return nil, getErr
		}
		h.step("demo department %d/%d: %s (new key and certificate)", i+1, len(DemoDepartments), dd.Name)
		key, err := sm.GenerateKey()
		if err != nil {
			return nil, err
		}
		d := &exchange.Department{Code: code, Name: dd.Name, Level: dd.Level, Region: dd.Region, Roles: dd.Roles}
		now := h.now()
		der, serial, chain, err := h.CA.IssueDepartment(&key.PublicKey, d, now)
		if err != nil {
			return nil, err
		}
		d.Certificate, d.CertSerial, d.RegisteredAt = der, serial, now.UTC()
		// Write the identity first: a crash between the two steps leaves an identity the
		// next start replaces, never a registered department without its key.
		id := &identity.Identity{Code: code, Name: dd.Name, HubURL: hubURL, Key: key, CertPEM: pemCertDER(der), CAChainPEM: []byte(chain), TLSCAPEM: tlsCA}
		if err := id.Save(dir, nil); err != nil {
			return nil, fmt.Errorf("write demo identity %s: %w", dir, err)
		}
		digest := sm.Sum(der)
		rec := ledger.Record{Kind: server.KindDepartmentRegister, Time: now, Resource: code, Reason: "demo department: certificate " + serial, ResponseDigest: digest[:]}
		if getErr == nil {
			rec.Reason = "demo department: new key, certificate " + serial
			err = h.seedWrite(ctx, rec, func(ctx context.Context) error {
				return h.Store.Departments().UpdateCertificate(ctx, code, der, serial)
			})
			h.Auth.Forget(code)
		} else {
			err = h.seedWrite(ctx, rec, func(ctx context.Context) error { return h.Store.Departments().Create(ctx, d) })
		}
		if err != nil {
			return nil, fmt.Errorf("register demo department %s: %w", dd.Name, err)
		}
		h.Log.Info("demo department ready", slog.String("code", code), slog.String("name", dd.Name), slog.String("identity", dir))
		dirs = append(dirs, dir)
	}
	if h.Config.Demo { // gxhub serve --demo: show the whole scene
		h.step("demo catalogue, records and matter")
		if err := h.SeedDemoCatalog(ctx); err != nil {
			return nil, err
		}
	}
	return dirs, nil
}

// demoResources is the demo catalogue: who holds what, on which terms (index = position in
// DemoDepartments of the provider; published = the provider already publishes data).
var demoResources = []struct {
	provider  int
	published bool
	r         exchange.Resource
}{
	{1, true, exchange.Resource{Code: "500000-SCJG-0001", Name: "营业执照信息", Description: "市场主体登记的营业执照信息",
		Items: []exchange.DataItem{
			{Name: "uscc", Title: "统一社会信用代码", Type: "string", Sensitivity: exchange.SensitivityPublic},
			{Name: "name", Title: "名称", Type: "string", Sensitivity: exchange.SensitivityPublic},
			{Name: "legal_representative", Title: "法定代表人", Type: "string", Sensitivity: exchange.SensitivityPublic},
			{Name: "registered_capital", Title: "注册资本", Type: "string", Sensitivity: exchange.SensitivityPublic},
			{Name: "established_on", Title: "成立日期", Type: "date", Sensitivity: exchange.SensitivityPublic},
			{Name: "address", Title: "住所", Type: "string", Sensitivity: exchange.SensitivityPublic},
		},
		SubjectKind: exchange.SubjectUSCC, ShareType: exchange.ShareUnconditional, UpdateCycle: exchange.CycleRealtime,
		ProvisionMethod: exchange.ProvisionPullAPI, ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial}},
	{2, true, exchange.Resource{Code: "500000-GA-0001", Name: "户籍人口信息", Description: "常住人口户籍登记信息",
		Items: []exchange.DataItem{
			{Name: "id_number", Title: "公民身份号码", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal, Mask: exchange.MaskIDNumber},
			{Name: "name", Title: "姓名", Type: "string", Sensitivity: exchange.SensitivityPersonal, Mask: exchange.MaskName},
			{Name: "household_address", Title: "户籍地址", Type: "string", Sensitivity: exchange.SensitivityPersonal, Mask: exchange.MaskAddress},
			{Name: "household_head_relation", Title: "与户主关系", Type: "string", Sensitivity: exchange.SensitivityPersonal},
		},
		SubjectKind: exchange.SubjectIDNumber, ShareType: exchange.ShareConditional, Condition: "仅限依法办理政务服务事项时核验申请人户籍，须绑定事项编码和办件编码",
		UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI, ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial}},
	{2, true, exchange.Resource{Code: "500000-GA-0009", Name: "居民身份证指纹信息", Description: "申领居民身份证时登记的指纹信息",
		Items: []exchange.DataItem{
			{Name: "id_number", Title: "公民身份号码", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal, Mask: exchange.MaskIDNumber},
			{Name: "fingerprint", Title: "指纹信息", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal},
		},
		SubjectKind: exchange.SubjectIDNumber, ShareType: exchange.ShareNotShared,
		LegalBasis:  exchange.LegalBasis{Kind: exchange.BasisLaw, Title: "中华人民共和国居民身份证法", Article: "第三条第三款、第六条第三款"},
		UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI, ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial}},
	{3, false, exchange.Resource{Code: "500000-BDC-0001", Name: "不动产登记信息", Description: "不动产权利人、坐落、权属证书号",
		Items: []exchange.DataItem{
			{Name: "certificate_number", Title: "不动产权证书号", Type: "string", Sensitivity: exchange.SensitivityPersonal},
			{Name: "owner_id_number", Title: "权利人证件号码", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal, Mask: exchange.MaskIDNumber},
			{Name: "owner_name", Title: "权利人", Type: "string", Sensitivity: exchange.SensitivityPersonal, Mask: exchange.MaskName},
			{Name: "location", Title: "坐落", Type: "string", Sensitivity: exchange.SensitivityPersonal, Mask: exchange.MaskAddress},
			{Name: "area", Title: "面积", Type: "number", Sensitivity: exchange.SensitivityPersonal},
		},
		SubjectKind: exchange.SubjectIDNumber, ShareType: exchange.ShareConditional, Condition: "仅限依法履职查询申请人名下不动产，须绑定事项编码",
		UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI, ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial}},
	{5, true, exchange.Resource{Code: "500000-MZ-0001", Name: "婚姻登记信息", Description: "结婚、离婚登记信息",
		Items: []exchange.DataItem{
			{Name: "id_number", Title: "公民身份号码", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal, Mask: exchange.MaskIDNumber},
			{Name: "name", Title: "姓名", Type: "string", Sensitivity: exchange.SensitivityPersonal, Mask: exchange.MaskName},
			{Name: "marital_status", Title: "婚姻状况", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal},
			{Name: "spouse_id_number", Title: "配偶公民身份号码", Type: "string", Sensitivity: exchange.SensitivitySensitivePersonal, Mask: exchange.MaskIDNumber},
			{Name: "registered_on", Title: "登记日期", Type: "date", Sensitivity: exchange.SensitivityPersonal},
		},
		SubjectKind: exchange.SubjectIDNumber, ShareType: exchange.ShareConditional, Condition: "仅限办理需核验婚姻状况的政务服务事项",
		UpdateCycle: exchange.CycleDaily, ProvisionMethod: exchange.ProvisionPullAPI, ScopeRegion: "500000", ScopeLevel: exchange.LevelProvincial}},
}

// demoIDProofType is the demo licence catalogue's 居民身份证明 type (fictitious definer code).
const demoIDProofType = "11999999000000029N001"

// SeedDemoCatalog registers the demo catalogue (营业执照信息 unconditional, 户籍人口信息
// conditional, 居民身份证指纹信息 not shared, 不动产登记信息 conditional and not yet
// published, 婚姻登记信息 conditional) and the demo matter registry (demoMatters: 住房公积金
// 购房提取, whose 居民身份证 material is the demo licence catalogue's 居民身份证明 type, and
// 渝北区's two business matters). Idempotent: what exists is kept. SeedDemo calls it when
// the hub serves --demo (Config.Demo); otherwise call it after SeedDemo.
func (h *Hub) SeedDemoCatalog(ctx context.Context) error {
	codes := make([]string, len(DemoDepartments))
	for i, dd := range DemoDepartments {
		c, err := dd.Code()
		if err != nil {
			return err
		}
		codes[i] = c
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	for _, dr := range demoResources {
		r := dr.r
		r.Items = slices.Clone(r.Items)
		r.Provider, r.UpdatedAt, r.UpdatedBy = codes[dr.provider], now, codes[dr.provider]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("demo resource %s: %w", r.Code, err)
		}
		err := h.seedWrite(ctx, ledger.Record{Kind: server.KindCatalogChange, Time: now, Resource: r.Code, Reason: "demo resource: register v1", RequestID: r.Code + "@v1"},
			func(ctx context.Context) error {
				if err := h.Store.Catalog().Create(ctx, &r); err != nil {
					return err
				}
				if dr.published {
					return h.Store.Catalog().MarkPublished(ctx, r.Code, now)
				}
				return nil
			})
		if err != nil && exchange.KindOf(err) != exchange.KindAlreadyExists {
			return fmt.Errorf("demo resource %s: %w", r.Code, err)
		}
	}
	if err := h.seedDemoRecords(ctx, codes, now); err != nil {
		return err
	}
	for _, m := range demoMatters(codes) {
		m.Version, m.UpdatedAt, m.UpdatedBy = 1, now, codes[0]
		if err := m.Validate(); err != nil {
			return fmt.Errorf("demo matter %s: %w", m.Code, err)
		}
		if err := h.seedWrite(ctx, ledger.Record{Kind: server.KindMatterChange, Time: now, Matter: m.Code, Reason: "demo matter v1: " + m.Name, RequestID: m.Code + "@v1"},
			func(ctx context.Context) error { return h.Store.Matters().Put(ctx, m) }); err != nil && exchange.KindOf(err) != exchange.KindAlreadyExists {
			return fmt.Errorf("demo matter %s: %w", m.Code, err)
		}
	}
	return nil
}

// optimisingBusiness is 《优化营商环境条例》(国务院令第722号), the basis of the demo's
// business matters.
var optimisingBusiness = exchange.LegalBasis{Kind: exchange.BasisAdministrativeRegulation, Title: "优化营商环境条例", Article: "第三十五条", DocNumber: "国务院令第722号"}

// demoMatters is the demo matter registry (事项目录), kept by the coordinator: the matters
// docs/ROLES.md and the SDK examples name. codes are the demo departments' codes.
func demoMatters(codes []string) []*exchange.Matter {
	return []*exchange.Matter{
		{Code: "500000-GJJ-0001", Name: "住房公积金购房提取", Department: codes[4], TimeLimit: 3,
			LegalBasis: exchange.LegalBasis{Kind: exchange.BasisAdministrativeRegulation, Title: "住房公积金管理条例", Article: "第二十四条、第二十五条", DocNumber: "国务院令第350号"},
			Materials: []exchange.Material{
				{ID: "id_proof", Name: "居民身份证", ECertType: demoIDProofType},
				{ID: "household_register", Name: "户口簿", Resource: "500000-GA-0001", Items: []string{"name", "household_address"}},
				{ID: "marriage_proof", Name: "婚姻状况证明", Resource: "500000-MZ-0001", Items: []string{"marital_status", "spouse_id_number"}},
				{ID: "property_certificate", Name: "不动产权证书", Resource: "500000-BDC-0001", Items: []string{"certificate_number", "owner_name", "location"}},
				{ID: "purchase_contract", Name: "购房合同及付款凭证"},
			}},
		{Code: "500112-YB-0001", Name: "企业变更登记（渝北区）", Department: codes[7], TimeLimit: 3, LegalBasis: optimisingBusiness,
			Materials: []exchange.Material{
				{ID: "business_licence", Name: "营业执照", Resource: "500000-SCJG-0001", Items: []string{"name", "legal_representative"}},
				{ID: "change_resolution", Name: "变更决议或决定"},
			}},
		{Code: "500112-YB-0002", Name: "企业住所（经营场所）核验（渝北区）", Department: codes[7], TimeLimit: 5, LegalBasis: optimisingBusiness,
			Materials: []exchange.Material{
				{ID: "business_licence", Name: "营业执照", Resource: "500000-SCJG-0001", Items: []string{"name", "address"}},
				{ID: "lease", Name: "住所使用证明"},
			}},
	}
}

// demoPerson is a fictitious resident of the demo data (ID numbers are made valid with the
// GB 11643 check character but belong to nobody).
type demoPerson struct{ body, name, address, relation, marital string }

var demoPeople = []demoPerson{
	{"50011219850312001", "张建国", "重庆市渝北区龙溪街道金龙路88号", "户主", "已婚"},
	{"50011219870706002", "李秀兰", "重庆市渝北区龙溪街道金龙路88号", "配偶", "已婚"},
	{"50010319920115003", "王小明", "重庆市渝中区解放碑街道民族路12号", "户主", "未婚"},
}

// seedDemoRecords publishes the demo records of the demo resources that are published,
// as the providers' batches (batch ids demo-<resource>; idempotent).
func (h *Hub) seedDemoRecords(ctx context.Context, codes []string, now time.Time) error {
	ids := make([]string, len(demoPeople))
	for i, p := range demoPeople {
		ids[i] = p.body + string(exchange.IDNumberCheckChar(p.body))
	}
	batches := map[string][]exchange.Change{}
	for i, p := range demoPeople {
		batches["500000-GA-0001"] = append(batches["500000-GA-0001"], exchange.Change{Op: exchange.OpUpsert, Subject: ids[i],
			Fields: map[string]string{"id_number": ids[i], "name": p.name, "household_address": p.address, "household_head_relation": p.relation}})
		m := map[string]string{"id_number": ids[i], "name": p.name, "marital_status": p.marital}
		if i < 2 {
			m["spouse_id_number"], m["registered_on"] = ids[1-i], "2012-10-01"
		}
		batches["500000-MZ-0001"] = append(batches["500000-MZ-0001"], exchange.Change{Op: exchange.OpUpsert, Subject: ids[i], Fields: m})
	}
	for i, c := range []struct{ name, rep, capital, on, addr string }{
		{"重庆渝北示例科技有限公司", "张建国", "500万元人民币", "2018-05-20", "重庆市渝北区龙溪街道金龙路100号"},
		{"重庆山城示例餐饮管理有限公司", "王小明", "50万元人民币", "2021-09-01", "重庆市渝中区解放碑街道民族路20号"},
	} {
		body := fmt.Sprintf("91500000MA5U%05dX", i+1)[:17]
		ch, err := exchange.USCCCheckChar(body)
		if err != nil {
			return err
		}
		code := body + string(ch)
		batches["500000-SCJG-0001"] = append(batches["500000-SCJG-0001"], exchange.Change{Op: exchange.OpUpsert, Subject: code,
			Fields: map[string]string{"uscc": code, "name": c.name, "legal_representative": c.rep, "registered_capital": c.capital, "established_on": c.on, "address": c.addr}})
	}
	for _, dr := range demoResources {
		changes, ok := batches[dr.r.Code]
		if !ok || !dr.published {
			continue
		}
		r := dr.r
		r.Provider = codes[dr.provider]
		b := &exchange.Batch{ID: "demo-" + r.Code, Resource: r.Code, Provider: r.Provider, Changes: changes, At: now}
		if err := exchange.ValidateBatch(b, &r); err != nil {
			return fmt.Errorf("demo records of %s: %w", r.Code, err)
		}
		if _, _, _, err := server.StoreBatch(ctx, h.Store, h.Audit.Writer, h.Log, b); err != nil && exchange.KindOf(err) != exchange.KindAlreadyExists {
			return fmt.Errorf("demo records of %s: %w", r.Code, err)
		}
	}
	return nil
}

// seedWrite makes a demo write as an audited write of the hub itself: the demo's rows
// have their audit records like every other row.
func (h *Hub) seedWrite(ctx context.Context, rec ledger.Record, fn func(ctx context.Context) error) error {
	rec.Department, rec.Outcome = exchange.SystemActor, ledger.OutcomeOK
	_, err := h.Audit.Writer.Write(ctx, func(ctx context.Context) (ledger.Record, error) {
		if err := fn(ctx); err != nil {
			return ledger.Record{}, err
		}
		return rec, nil
	})
	return err
}
