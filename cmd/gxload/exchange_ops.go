package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Settings for the exchange operations (flags in main).
var (
	loadRecords    = 1000 // records published before a pull run
	loadBatch      = 1    // records per publish call
	loadVerifyFile = ""   // document the verify op sends
	verifyPull     = true // the pull op checks the hub's SM2 signature on each response
	loadSubjects   = 100  // subjects per batch pull (pullbatch)
)

const loadMatter = "500000-LOAD-XK"

// loadCases is how many subjects each consumer opens a case for (pulls pick among them).
const loadCases = 100

func init() {
	ops["pull"] = Op{Name: "pull", Setup: setupPull, Do: doPull}
	ops["pullbatch"] = Op{Name: "pullbatch", Setup: setupPull, Do: doPullBatch, Records: func() int { return loadSubjects }}
	ops["publish"] = Op{Name: "publish", Setup: setupPublish, Do: doPublish}
	ops["verify"] = Op{Name: "verify", Setup: setupVerify, Do: doVerify}
}

func hasRole(ctx context.Context, c *sdk.Client, role adminv1.Role) (bool, string, error) {
	me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
	if err != nil {
		return false, "", err
	}
	for _, r := range me.GetDepartment().GetRoles() {
		if r == role {
			return true, me.GetDepartment().GetCode(), nil
		}
	}
	return false, me.GetDepartment().GetCode(), nil
}

// exchangeState is a load resource of one provider, its published subjects and the
// consumers holding a granted requirement on it.
type exchangeState struct {
	provider    *sdk.Client
	resource    string
	subjects    []string
	consumers   []*sdk.Client
	reqs        []string   // requirement id per consumer
	cases       [][]string // per consumer, the case opened for subjects[j]
	hubKey      *ecdsa.PublicKey
	batches     atomic.Int64
	runID       int64
	subjectSeed atomic.Int64
}

// loadResource registers an unconditional resource (subjects are 统一社会信用代码) with the
// first provider among clients.
func loadResource(ctx context.Context, clients []*sdk.Client) (*exchangeState, error) {
	st := &exchangeState{runID: (time.Now().UnixMilli() + int64(os.Getpid())) % 100000}
	for _, c := range clients {
		ok, _, err := hasRole(ctx, c, adminv1.Role_ROLE_PROVIDER)
		if err != nil {
			return nil, err
		}
		if ok {
			st.provider = c
			break
		}
	}
	if st.provider == nil {
		return nil, errors.New("the load needs a provider among --identities")
	}
	st.resource = fmt.Sprintf("500000-LOAD-%05d", st.runID)
	_, err := st.provider.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: &exchangev1.Resource{
		Code: st.resource, Name: "压测企业信息", SubjectKind: "uscc", ShareType: "unconditional",
		UpdateCycle: "daily", ProvisionMethod: "pull_api", ScopeRegion: "500000", ScopeLevel: "provincial",
		Items: []*exchangev1.DataItem{
			{Name: "name", Title: "名称", Type: "string", Sensitivity: "public"},
			{Name: "address", Title: "住所", Type: "string", Sensitivity: "public"},
		}}})
	if err != nil {
		return nil, fmt.Errorf("register load resource %s: %w", st.resource, err)
	}
	return st, nil
}

// subject returns the n-th load subject of this run (a valid 统一社会信用代码).
func (st *exchangeState) subject(n int64) (string, error) {
	return testCode(fmt.Sprintf("%08d", 10000000+(st.runID*1000003+n)%89999999))
}

func (st *exchangeState) publish(ctx context.Context, n int) error {
	b := st.batches.Add(1)
	req := &exchangev1.PublishRequest{Resource: st.resource, BatchId: fmt.Sprintf("load-%d-%d", st.runID, b)}
	for range n {
		s, err := st.subject(st.subjectSeed.Add(1))
		if err != nil {
			return err
		}
		req.Changes = append(req.Changes, &exchangev1.RecordChange{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: s,
			Fields: map[string]string{"name": "压测企业" + s[10:17], "address": "重庆市渝北区" + s[14:17] + "号"}})
		st.subjects = append(st.subjects, s)
	}
	_, err := st.provider.Records.Publish(ctx, req)
	return err
}

func setupPull(ctx context.Context, clients []*sdk.Client) (any, error) {
	st, err := loadResource(ctx, clients)
	if err != nil {
		return nil, err
	}
	for left := loadRecords; left > 0; left -= 500 {
		if err := st.publish(ctx, min(left, 500)); err != nil {
			return nil, fmt.Errorf("publish load records: %w", err)
		}
	}
	if len(st.subjects) == 0 {
		return nil, errors.New("--records must be at least 1 for pulls")
	}
	if err := registerLoadMatter(ctx, clients, st.resource); err != nil {
		return nil, err
	}
	for _, c := range clients {
		if c == st.provider {
			continue
		}
		ok, _, err := hasRole(ctx, c, adminv1.Role_ROLE_CONSUMER)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		f, err := c.Requirements.FileRequirement(ctx, &exchangev1.FileRequirementRequest{Resource: st.resource,
			Items: []string{"name", "address"}, MatterCodes: []string{loadMatter}, LegalDuty: "《优化营商环境条例》"})
		if err != nil {
			return nil, fmt.Errorf("file load requirement: %w", err)
		}
		if s := f.GetRequirement().GetState(); s != "granted" {
			return nil, fmt.Errorf("load requirement %s is %s, want granted (an unconditional resource is granted on filing)", f.GetRequirement().GetId(), s)
		}
		// 一企一事一码: each pull serves an open case of the consumer whose applicant it reads.
		k := len(st.consumers)
		var cases []string
		for j, s := range st.subjects[:min(len(st.subjects), loadCases)] {
			number := fmt.Sprintf("LOAD-%d-%d-%d", st.runID, k, j)
			if _, err := c.Cases.OpenCase(ctx, &exchangev1.OpenCaseRequest{Number: number, Matter: loadMatter, Applicant: s}); err != nil {
				return nil, fmt.Errorf("open load case %s: %w", number, err)
			}
			cases = append(cases, number)
		}
		st.consumers = append(st.consumers, c)
		st.reqs = append(st.reqs, f.GetRequirement().GetId())
		st.cases = append(st.cases, cases)
	}
	if len(st.consumers) == 0 {
		return nil, errors.New("the pull load needs consumer departments other than the provider among --identities")
	}
	info, err := st.provider.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
	if err != nil {
		return nil, err
	}
	if st.hubKey, err = sm.ParsePublicKeyPEM([]byte(info.GetPullKeyPem())); err != nil {
		return nil, fmt.Errorf("hub signing key: %w", err)
	}
	return st, nil
}

// registerLoadMatter registers the load matter with the coordinator among clients, unless
// it is registered already (matters are registered by the coordinator only).
func registerLoadMatter(ctx context.Context, clients []*sdk.Client, resource string) error {
	var coordinator *sdk.Client
	var handler string
	for _, c := range clients {
		ok, code, err := hasRole(ctx, c, adminv1.Role_ROLE_COORDINATOR)
		if err != nil {
			return err
		}
		if ok && coordinator == nil {
			coordinator = c
		}
		if cons, _, err := hasRole(ctx, c, adminv1.Role_ROLE_CONSUMER); err != nil {
			return err
		} else if cons && handler == "" {
			handler = code
		}
	}
	if coordinator == nil {
		if _, err := clients[0].Matters.GetMatter(ctx, &exchangev1.GetMatterRequest{Code: loadMatter}); err != nil {
			return fmt.Errorf("the pull load names matter %s: register it, or include the coordinator among --identities: %w", loadMatter, err)
		}
		return nil
	}
	_, err := coordinator.Matters.DefineMatter(ctx, &exchangev1.DefineMatterRequest{Matter: &exchangev1.Matter{
		Code: loadMatter, Name: "压测事项", Department: handler, TimeLimitDays: 5,
		LegalBasis: &exchangev1.LegalBasis{Kind: "administrative_regulation", Title: "优化营商环境条例", Article: "第三十五条", DocumentNumber: "国务院令第722号"},
		Materials:  []*exchangev1.Material{{Id: "company", Name: "企业信息", Resource: resource, Items: []string{"name", "address"}}}}})
	if err != nil && sdk.Reason(err) != "MATTER_EXISTS" {
		return fmt.Errorf("register load matter %s: %w", loadMatter, err)
	}
	return nil
}

func doPull(ctx context.Context, state any, _ *sdk.Client, w, _ int) error {
	st := state.(*exchangeState)
	k := w % len(st.consumers)
	j := rand.IntN(len(st.cases[k]))
	subject := st.subjects[j]
	req := &exchangev1.PullRequest{RequirementId: st.reqs[k], MatterCode: loadMatter, CaseNumber: st.cases[k][j], Subjects: []string{subject}}
	var resp *exchangev1.PullResponse
	var err error
	if transport == "rest" {
		resp = &exchangev1.PullResponse{}
		err = restCall(ctx, st.consumers[k], "POST", "/v1/pulls", req, resp)
	} else {
		resp, err = st.consumers[k].Pulls.Pull(ctx, req)
	}
	if err != nil {
		return err
	}
	if !verifyPull {
		return nil
	}
	res, err := sdk.VerifyPull(resp, st.hubKey)
	if err != nil {
		return err
	}
	if len(res.GetRecords()) != 1 || res.GetRecords()[0].GetSubject() != subject {
		return fmt.Errorf("pull of %s returned %d records", subject, len(res.GetRecords()))
	}
	return nil
}

// doPullBatch pulls --subjects subjects of one consumer in one batch, each for its own
// case (cycling over the consumer's cases when more are asked than it has).
func doPullBatch(ctx context.Context, state any, _ *sdk.Client, w, _ int) error {
	st := state.(*exchangeState)
	k := w % len(st.consumers)
	off := rand.IntN(len(st.cases[k]))
	req := &exchangev1.PullBatchRequest{Entries: make([]*exchangev1.PullBatchEntry, loadSubjects)}
	for i := range req.Entries {
		j := (off + i) % len(st.cases[k])
		req.Entries[i] = &exchangev1.PullBatchEntry{RequirementId: st.reqs[k], MatterCode: loadMatter, CaseNumber: st.cases[k][j], Subject: st.subjects[j]}
	}
	resp, err := st.consumers[k].PullBatch.PullBatch(ctx, req)
	if err != nil {
		return err
	}
	if !verifyPull {
		return nil
	}
	res, err := sdk.VerifyPullBatch(req, resp, st.hubKey)
	if err != nil {
		return err
	}
	for i, o := range res.GetEntries() {
		if !o.GetGranted() || len(o.GetResult().GetRecords()) != 1 {
			return fmt.Errorf("batch entry %d (%s) not served: %s %s", i+1, req.Entries[i].GetSubject(), o.GetReason(), o.GetMessage())
		}
	}
	return nil
}

func setupPublish(ctx context.Context, clients []*sdk.Client) (any, error) {
	return loadResource(ctx, clients)
}

func doPublish(ctx context.Context, state any, _ *sdk.Client, _, _ int) error {
	return state.(*exchangeState).publishNoKeep(ctx, loadBatch)
}

// publishNoKeep publishes n new records without remembering their subjects.
func (st *exchangeState) publishNoKeep(ctx context.Context, n int) error {
	b := st.batches.Add(1)
	req := &exchangev1.PublishRequest{Resource: st.resource, BatchId: fmt.Sprintf("load-%d-%d", st.runID, b)}
	for range n {
		s, err := st.subject(st.subjectSeed.Add(1))
		if err != nil {
			return err
		}
		req.Changes = append(req.Changes, &exchangev1.RecordChange{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: s,
			Fields: map[string]string{"name": "压测企业" + s[10:17], "address": "重庆市渝北区"}})
	}
	_, err := st.provider.Records.Publish(ctx, req)
	return err
}

type verifyState struct {
	name    string
	content []byte
}

func setupVerify(context.Context, []*sdk.Client) (any, error) {
	if loadVerifyFile == "" {
		return nil, errors.New("the verify load needs --verify-file (a sealed OFD, PDF signature, certificate or e-seal)")
	}
	b, err := os.ReadFile(loadVerifyFile)
	if err != nil {
		return nil, fmt.Errorf("--verify-file: %w", err)
	}
	return &verifyState{name: loadVerifyFile, content: b}, nil
}

func doVerify(ctx context.Context, state any, c *sdk.Client, _, _ int) error {
	s := state.(*verifyState)
	_, err := c.Verify.Verify(ctx, &certsv1.VerifyRequest{Name: s.name, Content: s.content})
	return err
}
