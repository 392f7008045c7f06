package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(subscribeCmd()) }

func subscribeCmd() *cobra.Command {
	var req exchangev1.SubscribeRequest
	cmd := &cobra.Command{
		Use:   "subscribe --requirement ID --matter CODE [--case NUMBER] [--after CURSOR] [--until-caught-up]",
		Short: "Follow changes of the records of a case, one line per change (each verified)",
		Long: `Follow the changes of the records of a case's subjects (its applicant and declared parties)
under a granted requirement whose provision method is subscription. The hub answers each
change with a pull of that subject at the version the change created: only approved items,
signed by the hub, audited. Without --case it follows every record of the resource, when the
requirement's scope covers the resource's whole scope. gxctl
verifies every signature before printing the change, one line each (--json: one JSON object
per line), and reconnects after a disconnect from the last cursor printed, so no change is
lost or printed twice. Resume later with --after CURSOR (the last cursor you processed).
It runs until interrupted, or with --until-caught-up until every change so far is shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.RequirementId == "" || req.MatterCode == "" {
				return exitf(2, "--requirement and --matter are required: a subscription follows the subjects of one open case (--case), or the whole resource")
			}
			if req.After < 0 {
				return exitf(2, "--after must be a cursor gxctl printed (0 or more)")
			}
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := callContext()
			info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
			cancel()
			if err != nil {
				return callErr(err)
			}
			hubKey, err := sdk.PullKey(info, "", time.Now())
			if err != nil {
				return exitf(1, "the hub's published key does not parse: %v", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := cmd.OutOrStdout()
			for ch, err := range c.Follow(ctx, &req, hubKey) {
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted
					}
					return callErr(err)
				}
				if global.json {
					res, err := protojson.Marshal(ch.Result)
					if err != nil {
						return err
					}
					line, err := json.Marshal(struct {
						Cursor          int64           `json:"cursor"`
						IdempotencyKey  string          `json:"idempotency_key"`
						Subject         string          `json:"subject"`
						ChangeVersion   int64           `json:"change_version"`
						AuditReferences []uint64        `json:"audit_references"`
						Result          json.RawMessage `json:"result"`
					}{ch.Cursor, ch.IdempotencyKey, ch.Subject, ch.ChangeVersion, ch.Response.GetAuditReferences(), res})
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%s\n", line)
					continue
				}
				fmt.Fprintf(w, "cursor %d  %s  %s\n", ch.Cursor, ch.Subject, changeLine(ch.ChangeVersion, ch.Result, ch.Response.GetAuditReferences()))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.RequirementId, "requirement", "", "granted requirement id (provision method subscription)")
	cmd.Flags().StringVar(&req.MatterCode, "matter", "", "matter code (事项编码)")
	cmd.Flags().StringVar(&req.CaseNumber, "case", "", "case number (办件编码) whose subjects are followed (empty: the whole resource)")
	cmd.Flags().StringVar(&req.Operator, "operator", "", "operator inside your department")
	cmd.Flags().Int64Var(&req.After, "after", 0, "resume after this cursor (0: from the first change)")
	cmd.Flags().BoolVar(&req.UntilCaughtUp, "until-caught-up", false, "stop once every change so far is shown")
	return cmd
}

// changeLine shows what a delivery served: the version and approved items, or that the
// subject has no live record (deleted).
func changeLine(changeVersion int64, res *exchangev1.PullResult, audit []uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "change v%d  ", changeVersion)
	for _, r := range res.GetRecords() {
		keys := make([]string, 0, len(r.GetFields()))
		for k := range r.GetFields() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "served v%d", r.GetVersion())
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s=%s", k, r.GetFields()[k])
		}
	}
	if len(res.GetNotFound()) > 0 {
		b.WriteString("no live record (deleted)")
	}
	fmt.Fprintf(&b, "  (signature verified; pull %s; audit %v)", res.GetPullId(), audit)
	return b.String()
}

func init() { root.AddCommand(webhookCmd()) }

func webhookCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "Have the hub push a subscription's changes to your HTTPS endpoint"}
	var req exchangev1.RegisterWebhookRequest
	var caFile string
	register := &cobra.Command{
		Use:   "register (--requirement ID --matter CODE [--case NUMBER] | --freshness-alerts) --url https://... [--ca FILE]",
		Short: "Register an HTTPS endpoint for the changes of a case (checked like subscribe)",
		Long: `The hub POSTs every change of the records of the case's subjects to the URL: the same
delivery as gxctl subscribe prints, in JSON, signed by the hub (header Gxhub-Signature, base64
SM2 over the body; verify with the hub key, e.g. sdk.VerifyWebhook) with an Idempotency-Key
header. A delivery is sent again with backoff until the endpoint answers 2xx; after the
hub's attempt limit it is dead-lettered (gxctl webhook list) and the next change follows.
--ca names the PEM CA certificate the endpoint's TLS certificate chains to.
With --freshness-alerts (a provider) the hub pushes instead your own resources' freshness
alerts, as gxctl freshness follow prints them (a FreshnessAlert in JSON, signed the same way;
sdk.VerifyAlertWebhook).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Url == "" || (!req.FreshnessAlerts && (req.RequirementId == "" || req.MatterCode == "")) {
				return exitf(2, "--requirement, --matter and --url are required (--case: one case's subjects; without it, the whole resource)")
			}
			if caFile != "" {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return exitf(2, "read --ca: %v", err)
				}
				req.TlsCaPem = string(b)
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			w, err := c.Subscriptions.RegisterWebhook(ctx, &req)
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), w)
			}
			switch {
			case w.GetFreshnessAlerts():
				fmt.Fprintf(cmd.OutOrStdout(), "webhook %s registered: freshness alerts of %s go to %s\n", w.GetId(), w.GetDepartment(), w.GetUrl())
			case w.GetCaseNumber() == "":
				fmt.Fprintf(cmd.OutOrStdout(), "webhook %s registered: changes of the whole resource go to %s from cursor %d\n", w.GetId(), w.GetUrl(), w.GetCursor())
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "webhook %s registered: changes of case %s go to %s from cursor %d\n", w.GetId(), w.GetCaseNumber(), w.GetUrl(), w.GetCursor())
			}
			return nil
		},
	}
	register.Flags().StringVar(&req.RequirementId, "requirement", "", "granted requirement id (provision method subscription)")
	register.Flags().StringVar(&req.MatterCode, "matter", "", "matter code (事项编码)")
	register.Flags().StringVar(&req.CaseNumber, "case", "", "case number (办件编码) whose subjects are followed (empty: the whole resource)")
	register.Flags().StringVar(&req.Operator, "operator", "", "operator inside your department")
	register.Flags().StringVar(&req.Url, "url", "", "your HTTPS endpoint")
	register.Flags().BoolVar(&req.FreshnessAlerts, "freshness-alerts", false, "push your resources' freshness alerts instead (provider)")
	register.Flags().StringVar(&caFile, "ca", "", "PEM CA certificate of the endpoint (default: the system roots)")
	register.Flags().Int64Var(&req.After, "after", 0, "start after this cursor (0: from the first change)")
	list := &cobra.Command{
		Use:   "list",
		Short: "Your webhooks: where each stands, and the dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			l, err := c.Subscriptions.ListWebhooks(ctx, &exchangev1.ListWebhooksRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), l)
			}
			var tw table
			tw.row("ID", "CASE", "URL", "STATE", "CURSOR", "DELIVERED", "DEAD", "LAST ERROR")
			for _, w := range l.GetWebhooks() {
				what := w.GetCaseNumber()
				switch {
				case w.GetFreshnessAlerts():
					what = "(freshness alerts)"
				case what == "":
					what = "(whole resource)"
				}
				tw.row(w.GetId(), what, w.GetUrl(), w.GetState(), fmt.Sprint(w.GetCursor()), fmt.Sprint(w.GetDelivered()), fmt.Sprint(w.GetDeadLettered()), w.GetLastError())
			}
			if err := tw.write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if len(l.GetDeadLetters()) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "dead letters:")
				var dl table
				dl.row("WEBHOOK", "CURSOR", "IDEMPOTENCY KEY", "ATTEMPTS", "AT", "LAST ERROR")
				for _, d := range l.GetDeadLetters() {
					dl.row(d.GetWebhookId(), fmt.Sprint(d.GetCursor()), d.GetIdempotencyKey(), fmt.Sprint(d.GetAttempts()), showTS(d.GetAt()), d.GetLastError())
				}
				return dl.write(cmd.OutOrStdout())
			}
			return nil
		},
	}
	cmd.AddCommand(register, list)
	return cmd
}
