package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	"github.com/gxhub/gxhub/sdk/identity"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

func init() {
	root.AddCommand(healthCmd(), whoamiCmd(), departmentCmd(), signRequestCmd())
}

func healthCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that the hub is up (/healthz) and ready (/readyz)",
		Long: `Check that the hub is up (/healthz) and ready (/readyz). With --wait, keep trying until
it is (or the time is up): for scripts that start a hub and go on once it serves. While
waiting, a --ca file the starting hub has not written yet is waited for too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			deadline := time.Now().Add(wait)
			for {
				err := checkHealth(cmd)
				if err == nil || wait <= 0 || time.Now().After(deadline) {
					return err
				}
				time.Sleep(250 * time.Millisecond)
			}
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "keep trying for up to this long (e.g. 2m) until the hub is ready")
	return cmd
}

// checkHealth asks /healthz and /readyz once.
func checkHealth(cmd *cobra.Command) error {
	id, err := loadIdentity(false)
	if err != nil {
		return err
	}
	base, err := hubURL(id)
	if err != nil {
		return err
	}
	hc, err := httpClient(id)
	if err != nil {
		return err
	}
	failed := false
	type check struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	checks := map[string]check{}
	var lines []string
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := hc.Get(base + p)
		if err != nil {
			if msg := unreachable(base, err); msg != "" {
				return exitf(1, "%s", msg)
			}
			return exitf(1, "%s%s: %v", base, p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checks[strings.TrimPrefix(p, "/")] = check{resp.StatusCode, strings.TrimSpace(string(body))}
		// /readyz adds detail lines (the working-day calendar's coverage and warnings).
		detail := strings.Split(strings.TrimSpace(string(body)), "\n")
		lines = append(lines, fmt.Sprintf("%-8s %d %s", p, resp.StatusCode, detail[0]))
		for _, l := range detail[1:] {
			lines = append(lines, "         "+l)
		}
		failed = failed || resp.StatusCode != http.StatusOK
	}
	if failed {
		return exitf(1, "hub at %s is not healthy: %s", base, strings.Join(lines, "; "))
	}
	if global.json {
		return printJSON(cmd.OutOrStdout(), map[string]any{"hub": base, "healthy": true, "checks": checks})
	}
	for _, l := range lines {
		fmt.Fprintln(cmd.OutOrStdout(), l)
	}
	return nil
}

func whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the department the hub sees for --identity (a signed call)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Admin.WhoAmI(ctx, &adminv1.WhoAmIRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			return printDepartments(cmd.OutOrStdout(), resp.GetDepartment())
		},
	}
}

func printDepartments(w io.Writer, ds ...*adminv1.Department) error {
	var tw table
	tw.row("CODE", "NAME", "LEVEL", "REGION", "ROLES", "CERT SERIAL")
	for _, d := range ds {
		var roles []string
		for _, r := range d.GetRoles() {
			roles = append(roles, strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_")))
		}
		tw.row(d.GetCode(), d.GetName(), strings.ToLower(strings.TrimPrefix(d.GetLevel().String(), "LEVEL_")),
			d.GetRegion(), strings.Join(roles, ","), d.GetCertificateSerial())
	}
	return tw.write(w)
}

func departmentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "department", Aliases: []string{"dept"}, Short: "Department registry"}

	var region, level string
	var pageSize int32
	list := &cobra.Command{
		Use:   "list",
		Short: "List registered departments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			req := &adminv1.ListDepartmentsRequest{Region: region, PageSize: pageSize}
			if level != "" {
				l, err := exchange.ParseLevel(level)
				if err != nil {
					return exitf(2, "%v", err)
				}
				req.Level = adminv1.Level(l)
			}
			var all []*adminv1.Department
			for {
				ctx, cancel := callContext()
				resp, err := c.Admin.ListDepartments(ctx, req)
				cancel()
				if err != nil {
					return callErr(err)
				}
				all = append(all, resp.GetDepartments()...)
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), &adminv1.ListDepartmentsResponse{Departments: all})
			}
			return printDepartments(cmd.OutOrStdout(), all...)
		},
	}
	list.Flags().StringVar(&region, "region", "", "only this 6-digit region code")
	list.Flags().StringVar(&level, "level", "", "only this level (national, provincial, municipal, county, township)")
	list.Flags().Int32Var(&pageSize, "page-size", 100, "departments per call")

	get := &cobra.Command{
		Use:   "get CODE",
		Short: "Show one department",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			d, err := c.Admin.GetDepartment(ctx, &adminv1.GetDepartmentRequest{Code: args[0]})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), d)
			}
			return printDepartments(cmd.OutOrStdout(), d)
		},
	}

	var reg struct {
		code, name, level, region, out, keyPW string
		roles                                 []string
		plaintext                             bool
	}
	register := &cobra.Command{
		Use:   "register",
		Short: "Register a department (coordinator only): generates its SM2 key locally and has the hub certify it",
		Long: `Register a new department. Run as a coordinator department (--identity). The new
department's SM2 key pair is generated here; only the public key is sent. The new
identity (key, certificate, hub trust) is written to --out, its key encrypted with the
password in --key-password-file (or typed at the terminal); --plaintext-key stores it
unencrypted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reg.out == "" {
				return exitf(2, "--out DIR is required: where to write the new department's identity")
			}
			if _, err := os.Stat(filepath.Join(reg.out, "key.pem")); err == nil {
				return exitf(2, "%s already holds an identity: choose another --out", reg.out)
			}
			l, err := exchange.ParseLevel(reg.level)
			if err != nil {
				return exitf(2, "%v", err)
			}
			var roles []adminv1.Role
			for _, r := range reg.roles {
				ro, err := exchange.ParseRole(r)
				if err != nil {
					return exitf(2, "%v", err)
				}
				roles = append(roles, adminv1.Role(adminv1.Role_value["ROLE_"+strings.ToUpper(string(ro))]))
			}
			// The password is settled before the hub certifies anything, so that a refusal
			// leaves no registered department without its key.
			pw, err := newKeyPassword(reg.keyPW, reg.plaintext, "the new department's key")
			if err != nil {
				return err
			}
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			key, err := sm.GenerateKey()
			if err != nil {
				return err
			}
			pub, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
			if err != nil {
				return err
			}
			ctx, cancel := callContext()
			defer cancel()
			resp, err := c.Admin.RegisterDepartment(ctx, &adminv1.RegisterDepartmentRequest{
				Department:   &adminv1.Department{Code: reg.code, Name: reg.name, Level: adminv1.Level(l), Region: reg.region, Roles: roles},
				PublicKeyPem: string(pub),
			})
			if err != nil {
				return callErr(err)
			}
			me := c.Identity()
			id := &identity.Identity{Code: resp.GetDepartment().GetCode(), Name: resp.GetDepartment().GetName(), HubURL: me.HubURL,
				Key: key, CertPEM: []byte(resp.GetCertificatePem()), CAChainPEM: []byte(resp.GetCaChainPem()), TLSCAPEM: me.TLSCAPEM}
			if err := id.Save(reg.out, pw); err != nil {
				return exitf(1, "registered, but writing the identity failed: %v", err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered %s %s; identity written to %s\n", id.Code, id.Name, reg.out)
			return nil
		},
	}
	f := register.Flags()
	f.StringVar(&reg.code, "code", "", "统一社会信用代码 of the new department (18 characters)")
	f.StringVar(&reg.name, "name", "", "department name")
	f.StringVar(&reg.level, "level", "", "national, provincial, municipal, county or township")
	f.StringVar(&reg.region, "region", "", "6-digit 行政区划代码")
	f.StringSliceVar(&reg.roles, "role", nil, "role (provider, consumer, issuer, auditor, coordinator); repeatable")
	f.StringVar(&reg.out, "out", "", "directory for the new identity")
	f.StringVar(&reg.keyPW, "key-password-file", "", "file with the password that encrypts the new key (default: typed at the terminal)")
	f.BoolVar(&reg.plaintext, "plaintext-key", false, "store the new key unencrypted (tests and demos only)")

	cmd.AddCommand(list, get, register)
	return cmd
}

func signRequestCmd() *cobra.Command {
	var method, body string
	cmd := &cobra.Command{
		Use:   "sign-request PATH",
		Short: "Print the Authorization header for a REST call (for curl)",
		Long: `Print the header that signs one REST call as --identity. PATH includes the query,
e.g. /v1/departments?page_size=10. The header is valid once, for a few minutes.

  curl --cacert DATA_DIR/tls/ca.pem -H "$(gxctl --identity DIR sign-request /v1/whoami)" https://127.0.0.1:8443/v1/whoami`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := loadIdentity(true)
			if err != nil {
				return err
			}
			var data []byte
			switch {
			case body == "":
			case body == "-":
				if data, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return exitf(2, "read body: %v", err)
				}
			case strings.HasPrefix(body, "@"):
				if data, err = os.ReadFile(body[1:]); err != nil {
					return exitf(2, "read body: %v", err)
				}
			default:
				data = []byte(body)
			}
			if !strings.HasPrefix(args[0], "/") {
				return exitf(2, "PATH must start with / (e.g. /v1/whoami)")
			}
			h, err := reqsig.Sign(id.Key, id.KeyID(), method, args[0], data, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", reqsig.HeaderName, h)
			return nil
		},
	}
	cmd.Flags().StringVarP(&method, "method", "X", "GET", "HTTP method")
	cmd.Flags().StringVarP(&body, "data", "d", "", "request body: literal, @FILE, or - for stdin (sign exactly what curl sends)")
	return cmd
}
