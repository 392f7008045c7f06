package hub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
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
	org, err := orgCodeWithCheck(d.OrgCode)
	if err != nil {
		return "", err
	}
	body := "11" + d.Region + org
	c, err := exchange.USCCCheckChar(body)
	if err != nil {
		return "", err
	}
	return body + string(c), nil
}

// orgCodeWithCheck appends the GB 11714-1997 check character to an 8-digit body.
func orgCodeWithCheck(body string) (string, error) {
	if len(body) != 8 {
		return "", fmt.Errorf("organisation code body %q must be 8 characters", body)
	}
	weights := []int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, r := range body {
		var v int
		switch {
		case r >= '0' && r <= '9':
			v = int(r - '0')
		case r >= 'A' && r <= 'Z':
			v = int(r-'A') + 10
		default:
			return "", fmt.Errorf("organisation code body %q: only digits and A-Z", body)
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return body + "X", nil
	case 11:
		return body + "0", nil
	default:
		return body + string(rune('0'+c)), nil
	}
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
	for _, dd := range DemoDepartments {
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
		if getErr == nil {
			err = h.Store.Departments().UpdateCertificate(ctx, code, der, serial)
			h.Auth.Forget(code)
		} else {
			err = h.Store.Departments().Create(ctx, d)
		}
		if err != nil {
			return nil, fmt.Errorf("register demo department %s: %w", dd.Name, err)
		}
		h.Log.Info("demo department ready", slog.String("code", code), slog.String("name", dd.Name), slog.String("identity", dir))
		dirs = append(dirs, dir)
	}
	return dirs, nil
}
