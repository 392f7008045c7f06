package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// Op is one kind of load.
type Op struct {
	Name string
	// Setup prepares shared state (e.g. resources, requirements) before the clock starts.
	Setup func(ctx context.Context, clients []*sdk.Client) (any, error)
	// Do performs one operation as worker w's i-th call.
	Do func(ctx context.Context, state any, c *sdk.Client, w, i int) error
	// Teardown, if set, releases what Setup made once the run is over.
	Teardown func(state any)
	// Records, if set, is how many records one operation serves (a batch pull): the
	// hub's CPU is then also reported per record.
	Records func() int
}

// targets are the hub CPU per operation, in crypto units, that issue 18 sets (per record
// for a batch pull of 100 subjects).
var targets = map[string]float64{"whoami": 2, "pull": 3, "pullbatch": 0.3}

var ops = map[string]Op{
	"whoami": {
		Name:  "whoami",
		Setup: func(context.Context, []*sdk.Client) (any, error) { return nil, nil },
		Do: func(ctx context.Context, _ any, c *sdk.Client, _, _ int) error {
			if transport == "rest" {
				return restCall(ctx, c, "GET", "/v1/whoami", nil, &adminv1.WhoAmIResponse{})
			}
			_, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
			return err
		},
	},
	// workday is the floor of the transport: an unsigned public RPC (no signature to
	// verify, no nonce, no database), over the same TLS/HTTP/2 connections.
	"workday": {
		Name:  "workday",
		Setup: setupWorkday,
		Teardown: func(state any) {
			for _, c := range state.([]*sdk.Client) {
				c.Close()
			}
		},
		Do: func(ctx context.Context, state any, _ *sdk.Client, w, _ int) error {
			public := state.([]*sdk.Client)
			_, err := public[w%len(public)].Calendar.GetWorkday(ctx, &exchangev1.GetWorkdayRequest{Date: "2026-10-08"})
			return err
		},
	},
	"register": {
		Name:  "register",
		Setup: setupRegister,
		Do:    doRegister,
	},
}

// setupWorkday dials one client without identity (unsigned calls) per department's hub.
func setupWorkday(ctx context.Context, clients []*sdk.Client) (any, error) {
	public := make([]*sdk.Client, len(clients))
	for i, c := range clients {
		id := c.Identity()
		url := id.HubURL
		if hubURLOverride != "" {
			url = hubURLOverride
		}
		p, err := sdk.Dial(ctx, nil, sdk.WithURL(url), sdk.WithTLSCA(id.TLSCAPEM))
		if err != nil {
			return nil, err
		}
		public[i] = p
	}
	return public, nil
}

type registerState struct {
	coordinator *sdk.Client
	pubPEM      string
	seq         atomic.Int64
	base        int64
}

func setupRegister(ctx context.Context, clients []*sdk.Client) (any, error) {
	for _, c := range clients {
		me, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
		if err != nil {
			return nil, err
		}
		for _, r := range me.GetDepartment().GetRoles() {
			if r == adminv1.Role_ROLE_COORDINATOR {
				key, err := sm.GenerateKey()
				if err != nil {
					return nil, err
				}
				pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
				if err != nil {
					return nil, err
				}
				list, err := c.Admin.ListDepartments(ctx, &adminv1.ListDepartmentsRequest{PageSize: 1000})
				if err != nil {
					return nil, err
				}
				return &registerState{coordinator: c, pubPEM: string(pub), base: int64(len(list.GetDepartments())) * 1000}, nil
			}
		}
	}
	return nil, errors.New("register load needs a coordinator identity among --identities")
}

func doRegister(ctx context.Context, state any, _ *sdk.Client, _, _ int) error {
	s := state.(*registerState)
	n := s.base + s.seq.Add(1)
	code, err := testCode(fmt.Sprintf("%08d", 70000000+n%29999999))
	if err != nil {
		return err
	}
	_, err = s.coordinator.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{
		Department:   &adminv1.Department{Code: code, Name: "压测部门", Level: adminv1.Level_LEVEL_COUNTY, Region: "500112", Roles: []adminv1.Role{adminv1.Role_ROLE_CONSUMER}},
		PublicKeyPem: s.pubPEM,
	})
	return err
}

// testCode makes a valid 统一社会信用代码 (GB 11714 + GB 32100 check characters) for an
// 8-digit organisation code body in region 500112.
func testCode(org string) (string, error) {
	w := []int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, r := range org {
		sum += int(r-'0') * w[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		org += "X"
	case 11:
		org += "0"
	default:
		org += string(rune('0' + c))
	}
	body := "11500112" + org
	c, err := exchange.USCCCheckChar(body)
	if err != nil {
		return "", err
	}
	return body + string(c), nil
}
