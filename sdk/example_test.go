package sdk_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/gxhub/gxhub/certs/ecert"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// dial connects as the department whose identity directory is dir. Each example below
// opens its department's identity the same way: the directory `gxhub serve --demo`
// printed, or the one `gxctl department register` wrote for your department.
func dial(ctx context.Context, dir string) *sdk.Client {
	id, err := identity.Load(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	c, err := sdk.Dial(ctx, id) // hub URL and TLS CA come from the identity
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// A consumer (住房公积金管理中心) files a requirement for the unconditionally shared
// business-licence resource — granted at once — for a registered matter, opens a case
// (办件, 一企一事一码) for the applicant, then pulls the applicant's record for that case and
// checks the hub's signature on the response before using it.
func Example_consumer() {
	ctx := context.Background()
	c := dial(ctx, identityDir(housing))
	defer c.Close()

	req, err := c.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{
		Resource:    "500000-SCJG-0001", // 营业执照信息
		Items:       []string{"name", "legal_representative"},
		MatterCodes: []string{"500000-GJJ-0001"}, // 住房公积金购房提取
		LegalDuty:   "《住房公积金管理条例》第二十四条",
	})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	fmt.Println("requirement:", req.GetRequirement().GetState())

	// Pulls serve an open case of the department, and only its applicant and declared parties.
	cs, err := c.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{
		Number:    "GJJ-2026-000042", // 办件编码, unique hub-wide
		Matter:    "500000-GJJ-0001",
		Applicant: "91500000MA5U000010",
	})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	fmt.Println("case:", cs.GetCase().GetNumber(), cs.GetCase().GetState())

	// Pin the hub's pull-response key (published by the audit service) and verify every pull with it.
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	if err != nil {
		log.Fatal(err)
	}
	hubKey, err := sm.ParsePublicKeyPEM([]byte(info.GetPullKeyPem()))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Pulls.Pull(ctx, &exchangev1.PullRequest{
		RequirementId: req.GetRequirement().GetId(),
		MatterCode:    "500000-GJJ-0001",
		CaseNumber:    "GJJ-2026-000042", // 办件编码
		Subjects:      []string{"91500000MA5U000010"},
	})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	res, err := sdk.VerifyPull(resp, hubKey)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.GetRecords() {
		fmt.Println(r.GetSubject(), r.GetFields()["name"], r.GetFields()["legal_representative"])
	}
	fmt.Println("audit records:", len(resp.GetAuditReferences()))
	// Output:
	// requirement: granted
	// case: GJJ-2026-000042 open
	// 91500000MA5U000010 重庆渝北示例科技有限公司 张建国
	// audit records: 1
}

// The coordinator (大数据局) keeps the matter registry (事项目录): it registers a matter with
// its handling department, legal basis and promised time limit. Requirements, cases and
// pulls name registered matters only.
func Example_coordinator() {
	ctx := context.Background()
	c := dial(ctx, identityDir(bigData))
	defer c.Close()

	resp, err := c.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: &exchangev1.Matter{
		Code: "500112-YB-0101", Name: "食品经营许可变更（渝北区）", Department: yubei, TimeLimitDays: 10,
		LegalBasis: &exchangev1.LegalBasis{Kind: "规章", Title: "食品经营许可和备案管理办法", Article: "第三十条", DocumentNumber: "国家市场监督管理总局令第78号"},
		Materials: []*exchangev1.Material{
			{Id: "business_licence", Name: "营业执照", Resource: "500000-SCJG-0001", Items: []string{"name", "legal_representative"}},
			{Id: "application", Name: "变更申请书"},
		},
	}})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	m := resp.GetMatter()
	fmt.Println(m.GetCode(), "version", m.GetVersion(), "handled by", m.GetDepartment(), "within", m.GetTimeLimitDays(), "working days")
	fmt.Println("basis:", m.GetLegalBasis().GetCitation())
	// Output:
	// 500112-YB-0101 version 1 handled by 11500112000000086R within 10 working days
	// basis: 《食品经营许可和备案管理办法》（国家市场监督管理总局令第78号）第三十条（规章）
}

// A provider (市场监督管理局) registers a resource in the catalogue and publishes its
// records in one signed, atomic batch.
func Example_provider() {
	ctx := context.Background()
	c := dial(ctx, identityDir(market))
	defer c.Close()

	reg, err := c.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: &exchangev1.Resource{
		Code: "500000-SCJG-0201", Name: "食品经营许可信息", Description: "食品经营许可证的持证主体和许可范围",
		Items: []*exchangev1.DataItem{
			{Name: "licence_number", Title: "许可证编号", Type: "string", Sensitivity: "public"},
			{Name: "name", Title: "经营者名称", Type: "string", Sensitivity: "public"},
		},
		SubjectKind: "uscc", ShareType: "unconditional", UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000",
	}})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	fmt.Println("registered:", reg.GetResource().GetCode(), "version", reg.GetResource().GetVersion())

	upsert := exchangev1.ChangeOp_CHANGE_OP_UPSERT
	pub, err := c.Records.Publish(ctx, &exchangev1.PublishRequest{
		Resource: "500000-SCJG-0201",
		BatchId:  "spxk-2026-11-21", // a re-sent batch id is refused: safe to resume
		Changes: []*exchangev1.RecordChange{
			{Op: upsert, Subject: "91500000MA5U000010", Fields: map[string]string{"licence_number": "JY15001120012345", "name": "重庆渝北示例科技有限公司"}},
			{Op: upsert, Subject: "91500000MA5U000023", Fields: map[string]string{"licence_number": "JY15001030067890", "name": "重庆山城示例餐饮管理有限公司"}},
		},
	})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	fmt.Println("published:", len(pub.GetVersions()), "records, audited:", pub.GetAuditReference() > 0)
	// Output:
	// registered: 500000-SCJG-0201 version 1
	// published: 2 records, audited: true
}

// An issuer (市场监督管理局) seals a business licence (营业执照) with its own SM2 key —
// the key never leaves the department — registers it, and reads its status.
func Example_issuer() {
	ctx := context.Background()
	c := dial(ctx, identityDir(market))
	defer c.Close()

	cat, err := c.Catalogue(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ty, _ := cat.Lookup("11999999000000010R001") // 营业执照 in the demo catalogue
	id, err := ecert.NewIdentifier(ty.Code, market, "2026000042", 1)
	if err != nil {
		log.Fatal(err)
	}
	m, err := ecert.NewMetadata(ty, id)
	if err != nil {
		log.Fatal(err)
	}
	today := ecert.DateOf(time.Now().In(ecert.ChinaTime))
	m.Number, m.IssuerName, m.IssueDate, m.ValidFrom = "500112000042", "重庆市市场监督管理局", today, today
	m.HolderName, m.HolderCode = "重庆渝北示例科技有限公司", "91500000MA5U000010"
	m.Items = map[string]string{"entity_name": "重庆渝北示例科技有限公司", "entity_type": "有限责任公司", "legal_representative": "张建国",
		"established_on": "2018-05-20", "domicile": "重庆市渝北区龙溪街道金龙路100号", "business_scope": "软件开发"}
	lic, err := c.IssueLicence(ctx, m, "")
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	st, err := c.ECert.GetECertStatus(ctx, &certsv1.GetECertStatusRequest{Identifier: lic.GetIdentifier()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.GetName(), st.GetHolderName(), "version", st.GetVersion(), st.GetStatus())
	// Output:
	// 营业执照 重庆渝北示例科技有限公司 version 1 active
}

// An approver checks a sealed e-invoice (OFD, 国家税务总局重庆市税务局 test seal) offline —
// no hub needed — and then at the hub, which also consults its trust store, the seal and
// e-certificate registries and records the check in the audit log. The tax CA is in
// neither trust store, so the invoice is INTACT: its signatures hold, its signer is not
// confirmed.
func Example_approver() {
	ctx := context.Background()
	file, err := os.ReadFile("../certs/testdata/external/ofd/v4signed_gomain_chongqing_tax.ofd")
	if err != nil {
		log.Fatal(err)
	}

	rep, err := verify.Verify(ctx, file, verify.Options{Name: "invoice.ofd"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offline:", rep.Verdict, rep.Signed[0].SealName, "signed", rep.Signed[0].SigningTime.Format(time.DateOnly))

	c := dial(ctx, identityDir(yubei))
	defer c.Close()
	online, err := c.Verify.Verify(ctx, &certsv1.VerifyRequest{Name: "invoice.ofd", Content: file})
	if err != nil {
		log.Fatal(sdk.Reason(err), err)
	}
	fmt.Println("online:", online.GetReport().GetVerdict(), len(online.GetReport().GetChecks()) == len(rep.Checks))
	// Output:
	// offline: INTACT 测试全国统一发票监制章国家税务总局重庆市税务局 signed 2020-10-10
	// online: INTACT true
}

// An auditor (审计局) finds the publications of the business-licence resource, fetches a
// receipt for the first one and verifies it offline against the pinned log key: the
// record is in the signed, anchored log, unchanged.
func Example_auditor() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := dial(ctx, identityDir(auditOffic))
	defer c.Close()

	var found []*auditv1.AuditRecord
	_, err := c.SearchAuditRecords(ctx, &auditv1.SearchRecordsRequest{Resource: "500000-SCJG-0001", Kind: "publish"},
		func(r *auditv1.AuditRecord) error { found = append(found, r); return nil }, nil)
	if err != nil || len(found) == 0 {
		log.Fatal("no publication found: ", err)
	}
	info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	if err != nil {
		log.Fatal(err)
	}
	pinnedKey := info.GetPublicKeyPem() // obtain once, out of band, and keep

	// AuditReceipt waits for a signed head that covers the record; the log anchors heads at
	// its interval, so ask again until the receipt reaches an anchored one.
	var receipt *sdk.AuditReceipt
	for ctx.Err() == nil {
		if receipt, err = c.AuditReceipt(ctx, found[0].GetIndex()); err != nil {
			log.Fatal(err)
		}
		if receipt.Anchored {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !receipt.Anchored {
		log.Fatal("the record's head was not anchored within a minute")
	}
	rec, err := sdk.VerifyAuditReceipt(receipt, pinnedKey) // offline from here on
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Kind, rec.Department, rec.Resource, rec.Outcome)
	// Output:
	// publish 115000000000000275 500000-SCJG-0001 ok
}
