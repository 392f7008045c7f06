package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(catalogCmd()) }

// allPages calls page with each next-page token, from the first page to the last, and
// returns every item.
func allPages[T any](page func(ctx context.Context, token string) ([]T, string, error)) ([]T, error) {
	var all []T
	for token := ""; ; {
		ctx, cancel := callContext()
		items, next, err := page(ctx, token)
		cancel()
		if err != nil {
			return nil, callErr(err)
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		token = next
	}
}

// showCmd builds a command that reads one thing by its id and prints it (--json: as JSON).
func showCmd[T proto.Message](use, short string, get func(ctx context.Context, c *sdk.Client, id string) (T, error), print func(io.Writer, T) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				v, err := call(func(ctx context.Context) (T, error) { return get(ctx, c, args[0]) })
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), v)
				}
				return print(cmd.OutOrStdout(), v)
			})
		},
	}
}

// readProtoFile fills m from a protojson file ("-" = stdin).
func readProtoFile(cmd *cobra.Command, path string, m proto.Message) error {
	b, err := readInput(cmd, path)
	if err != nil {
		return exitf(2, "read %s: %v", path, err)
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return exitf(2, "%s is not a valid %s in JSON: %v", path, m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// call runs one API call with the standard timeout and maps its error.
func call[T any](f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := callContext()
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		return v, callErr(err)
	}
	return v, nil
}

// withClient dials the hub as --identity and runs fn.
func withClient(cmd *cobra.Command, fn func(c *sdk.Client) error) error {
	c, err := dial(cmd.Context(), true)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

func printResources(w io.Writer, rs ...*exchangev1.Resource) error {
	var tw table
	tw.row("CODE", "VERSION", "NAME", "PROVIDER", "SHARE", "ITEMS", "PUBLISHED")
	for _, r := range rs {
		var items []string
		for _, it := range r.GetItems() {
			items = append(items, it.GetName())
		}
		tw.row(r.GetCode(), strconv.Itoa(int(r.GetVersion())), r.GetName(), r.GetProvider(), r.GetShareType(),
			strings.Join(items, ","), strconv.FormatBool(r.GetPublished()))
	}
	return tw.write(w)
}

func printResourceDetail(w io.Writer, r *exchangev1.Resource) error {
	fmt.Fprintf(w, "%s v%d  %s\nprovider %s, %s", r.GetCode(), r.GetVersion(), r.GetName(), r.GetProvider(), r.GetShareType())
	switch r.GetShareType() {
	case "conditional":
		fmt.Fprintf(w, " (condition: %s)", r.GetCondition())
	case "not_shared":
		fmt.Fprintf(w, " (legal basis: %s)", r.GetLegalBasis().GetCitation())
	}
	if r.GetWithdrawn() {
		fmt.Fprint(w, "; WITHDRAWN from the catalogue")
	}
	fmt.Fprintf(w, "\nkeyed by %s; %s, %s; scope %s %s; freshness %d working day(s); published %v\n\n",
		r.GetSubjectKind(), r.GetUpdateCycle(), r.GetProvisionMethod(), r.GetScopeRegion(), r.GetScopeLevel(), r.GetFreshnessLimit(), r.GetPublished())
	var tw table
	tw.row("ITEM", "TITLE", "TYPE", "SENSITIVITY", "MASK")
	for _, it := range r.GetItems() {
		tw.row(it.GetName(), it.GetTitle(), it.GetType(), it.GetSensitivity(), it.GetMask())
	}
	return tw.write(w)
}

// resourceFlags are the flags that describe a resource.
type resourceFlags struct {
	file, code, name, description, subject, share, condition, cycle, provision, region, level string
	basis                                                                                     basisFlags
	items                                                                                     []string
	freshness, objectionDays                                                                  int32
}

func (f *resourceFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "the resource as JSON (gxhub.exchange.v1.Resource; '-' for stdin); flags override its fields")
	fl.StringVar(&f.code, "code", "", "resource code, e.g. 500000-SCJG-0001")
	fl.StringVar(&f.name, "name", "", "resource name, e.g. 营业执照信息")
	fl.StringVar(&f.description, "description", "", "description")
	fl.StringVar(&f.subject, "subject-kind", "", "id_number, uscc or certificate_number")
	fl.StringVar(&f.share, "share-type", "", "unconditional, conditional or not_shared")
	fl.StringVar(&f.condition, "condition", "", "sharing condition (conditional)")
	f.basis.add(cmd, "legal basis that forbids sharing (not_shared)")
	fl.StringVar(&f.cycle, "update-cycle", "", "realtime, daily, weekly or monthly")
	fl.StringVar(&f.provision, "provision", "", "pull_api, subscription or batch_file")
	fl.StringVar(&f.region, "region", "", "6-digit region code the data covers")
	fl.StringVar(&f.level, "level", "", "national, provincial, municipal, county or township")
	fl.StringArrayVar(&f.items, "item", nil, "data item name:title:type:sensitivity[:mask] (repeat; replaces the items); mask (脱敏): none, full, id_number, name, phone or address (default: full for personal items, none for the others)")
	fl.Int32Var(&f.freshness, "freshness", 0, "working days the data may be stale (default 1)")
	fl.Int32Var(&f.objectionDays, "objection-days", 0, "working days you take to answer an objection (0: the hub's default)")
}

func (f *resourceFlags) apply(cmd *cobra.Command, r *exchangev1.Resource) error {
	if f.file != "" {
		if err := readProtoFile(cmd, f.file, r); err != nil {
			return err
		}
	}
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("code", &r.Code, f.code)
	set("name", &r.Name, f.name)
	set("description", &r.Description, f.description)
	set("subject-kind", &r.SubjectKind, f.subject)
	set("share-type", &r.ShareType, f.share)
	set("condition", &r.Condition, f.condition)
	if b := f.basis.build(cmd); b != nil {
		r.LegalBasis = b
	}
	set("update-cycle", &r.UpdateCycle, f.cycle)
	set("provision", &r.ProvisionMethod, f.provision)
	set("region", &r.ScopeRegion, f.region)
	set("level", &r.ScopeLevel, f.level)
	if cmd.Flags().Changed("freshness") {
		r.FreshnessLimit = f.freshness
	}
	if cmd.Flags().Changed("objection-days") {
		r.ObjectionDays = f.objectionDays
	}
	if len(f.items) > 0 {
		r.Items = nil
		for _, s := range f.items {
			p := strings.Split(s, ":")
			if len(p) != 4 && len(p) != 5 {
				return exitf(2, "--item %q must be name:title:type:sensitivity[:mask], e.g. legal_representative:法定代表人:string:public or id_number:身份证号码:string:sensitive_personal:id_number", s)
			}
			it := &exchangev1.DataItem{Name: p[0], Title: p[1], Type: p[2], Sensitivity: p[3]}
			if len(p) == 5 {
				it.Mask = p[4]
			}
			r.Items = append(r.Items, it)
		}
	}
	return nil
}

func catalogCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Resource catalogue (政务数据资源目录): register, change, read, search"}

	var reg resourceFlags
	register := &cobra.Command{
		Use:   "register",
		Short: "Register a resource your department provides (version 1)",
		Example: `  gxctl catalog register --code 500000-SCJG-0002 --name 食品经营许可信息 --subject-kind uscc \
    --share-type unconditional --update-cycle daily --provision pull_api --region 500000 \
    --item licence_number:许可证编号:string:public
  gxctl catalog register --file resource.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &exchangev1.Resource{}
			if err := reg.apply(cmd, r); err != nil {
				return err
			}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.RegisterResourceResponse, error) {
					return c.Catalog.RegisterResource(ctx, &exchangev1.RegisterResourceRequest{Resource: r})
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp.GetResource())
				}
				return printResources(cmd.OutOrStdout(), resp.GetResource())
			})
		},
	}
	reg.add(register)

	var upd resourceFlags
	update := &cobra.Command{
		Use:   "update CODE",
		Short: "Change your resource: the current version with the given flags (or --file) applied becomes a new version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				cur, err := call(func(ctx context.Context) (*exchangev1.Resource, error) {
					return c.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: args[0]})
				})
				if err != nil {
					return err
				}
				version := cur.GetVersion()
				if err := upd.apply(cmd, cur); err != nil {
					return err
				}
				if upd.file == "" || cur.GetVersion() == 0 {
					cur.Version = version
				}
				cur.Code = args[0]
				resp, err := call(func(ctx context.Context) (*exchangev1.UpdateResourceResponse, error) {
					return c.Catalog.UpdateResource(ctx, &exchangev1.UpdateResourceRequest{Resource: cur})
				})
				if err != nil {
					return err
				}
				return printChange(cmd, resp.GetResource(), resp.GetProposal())
			})
		},
	}
	upd.add(update)

	var version int32
	get := &cobra.Command{
		Use:   "get CODE",
		Short: "Show a resource (the current version, or --version N)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				r, err := call(func(ctx context.Context) (*exchangev1.Resource, error) {
					return c.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: args[0], Version: version})
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), r)
				}
				return printResourceDetail(cmd.OutOrStdout(), r)
			})
		},
	}
	get.Flags().Int32Var(&version, "version", 0, "version to show (0 = current)")

	var q exchangev1.SearchResourcesRequest
	search := &cobra.Command{
		Use:   "search [TEXT]",
		Short: "Search the catalogue by name/code/description text, provider, data item, share type",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := proto.Clone(&q).(*exchangev1.SearchResourcesRequest)
			if len(args) == 1 {
				req.Query = args[0]
			}
			return withClient(cmd, func(c *sdk.Client) error {
				var all []*exchangev1.Resource
				for {
					resp, err := call(func(ctx context.Context) (*exchangev1.SearchResourcesResponse, error) {
						return c.Catalog.SearchResources(ctx, req)
					})
					if err != nil {
						return err
					}
					all = append(all, resp.GetResources()...)
					if resp.GetNextPageToken() == "" {
						break
					}
					req.PageToken = resp.GetNextPageToken()
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), &exchangev1.SearchResourcesResponse{Resources: all})
				}
				return printResources(cmd.OutOrStdout(), all...)
			})
		},
	}
	search.Flags().StringVar(&q.Provider, "provider", "", "provider department code")
	search.Flags().StringVar(&q.Item, "item", "", "text in a data item's name or title")
	search.Flags().StringVar(&q.ShareType, "share-type", "", "unconditional, conditional or not_shared")

	history := &cobra.Command{
		Use:   "history CODE",
		Short: "List every version of a resource",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				req := &exchangev1.ListResourceVersionsRequest{Code: args[0]}
				var all []*exchangev1.Resource
				for {
					resp, err := call(func(ctx context.Context) (*exchangev1.ListResourceVersionsResponse, error) {
						return c.Catalog.ListResourceVersions(ctx, req)
					})
					if err != nil {
						return err
					}
					all = append(all, resp.GetVersions()...)
					if resp.GetNextPageToken() == "" {
						break
					}
					req.PageToken = resp.GetNextPageToken()
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), &exchangev1.ListResourceVersionsResponse{Versions: all})
				}
				var tw table
				tw.row("VERSION", "UPDATED", "BY", "NAME", "SHARE", "ITEMS")
				for _, r := range all {
					tw.row(strconv.Itoa(int(r.GetVersion())), showTS(r.GetUpdatedAt()), r.GetUpdatedBy(),
						r.GetName(), r.GetShareType(), strconv.Itoa(len(r.GetItems())))
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	var wversion int32
	withdraw := &cobra.Command{
		Use:   "withdraw CODE",
		Short: "Withdraw your resource from the catalogue (a proposal to the coordinator while requirements on it are granted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				if wversion == 0 {
					cur, err := call(func(ctx context.Context) (*exchangev1.Resource, error) {
						return c.Catalog.GetResource(ctx, &exchangev1.GetResourceRequest{Code: args[0]})
					})
					if err != nil {
						return err
					}
					wversion = cur.GetVersion()
				}
				resp, err := call(func(ctx context.Context) (*exchangev1.WithdrawResourceResponse, error) {
					return c.Catalog.WithdrawResource(ctx, &exchangev1.WithdrawResourceRequest{Code: args[0], Version: wversion})
				})
				if err != nil {
					return err
				}
				return printChange(cmd, resp.GetResource(), resp.GetProposal())
			})
		},
	}
	withdraw.Flags().Int32Var(&wversion, "version", 0, "the current version (default: read it first)")

	cmd.AddCommand(register, update, get, search, history, withdraw, proposalCmd())
	return cmd
}

// printChange prints the outcome of a catalogue change: the new version, or the proposal
// it became.
func printChange(cmd *cobra.Command, r *exchangev1.Resource, p *exchangev1.CatalogProposal) error {
	w := cmd.OutOrStdout()
	if global.json {
		if p != nil {
			return printProto(w, p)
		}
		return printProto(w, r)
	}
	if p != nil {
		fmt.Fprintf(w, "PROPOSED: the change narrows sharing of %s while requirements on it are granted, so the coordinator decides it.\n", p.GetResource())
		return printProposal(w, p)
	}
	return printResources(w, r)
}

func printProposal(w io.Writer, p *exchangev1.CatalogProposal) error {
	overdue := ""
	if p.GetOverdue() {
		overdue = " OVERDUE"
	}
	if p.GetDeadlineProvisional() {
		overdue += " (deadline provisional)"
	}
	fmt.Fprintf(w, "proposal %s  %s%s  resource %s v%d by %s, decide by %s\nnarrows: %s\naffects requirements: %s\n",
		p.GetId(), p.GetState(), overdue, p.GetResource(), p.GetBaseVersion(), p.GetProvider(), p.GetDeadline().AsTime().In(cst).Format("2006-01-02"),
		strings.Join(p.GetNarrowing(), "; "), strings.Join(p.GetAffected(), ", "))
	if p.GetAppliedVersion() > 0 {
		fmt.Fprintf(w, "applied as version %d\n", p.GetAppliedVersion())
	}
	if len(p.GetDecisions()) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	var tw table
	tw.row("SEQ", "AT", "ACTION", "BY", "COMMENT", "SIGNED")
	for _, d := range p.GetDecisions() {
		tw.row(strconv.Itoa(int(d.GetSeq())), d.GetAt().AsTime().In(cst).Format("2006-01-02 15:04"), d.GetAction(), d.GetBy(), d.GetComment(),
			"SM2 (body SM3 "+d.GetBodyDigest()+")")
	}
	return tw.write(w)
}

func proposalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "proposal", Short: "Proposals to narrow a resource: the coordinator approves or rejects, the provider may withdraw"}
	var lreq exchangev1.ListProposalsRequest
	list := &cobra.Command{
		Use:   "list",
		Short: "List proposals (--state pending is the coordinator's queue)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.ListProposalsResponse, error) {
					return c.Catalog.ListProposals(ctx, &lreq)
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				var tw table
				tw.row("ID", "STATE", "RESOURCE", "PROVIDER", "DEADLINE", "NARROWS")
				for _, p := range resp.GetProposals() {
					state := p.GetState()
					if p.GetOverdue() {
						state += " (overdue)"
					}
					tw.row(p.GetId(), state, p.GetResource(), p.GetProvider(), p.GetDeadline().AsTime().In(cst).Format("2006-01-02"), strings.Join(p.GetNarrowing(), "; "))
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	list.Flags().StringVar(&lreq.Resource, "resource", "", "resource code")
	list.Flags().StringVar(&lreq.Provider, "provider", "", "provider department code")
	list.Flags().StringVar(&lreq.State, "state", "", "pending, approved, rejected or withdrawn")
	get := showCmd("get ID", "Show a proposal with its signed decisions",
		func(ctx context.Context, c *sdk.Client, id string) (*exchangev1.CatalogProposal, error) {
			return c.Catalog.GetProposal(ctx, &exchangev1.GetProposalRequest{Id: id})
		}, printProposal)
	decide := func(action, short string) *cobra.Command {
		var comment string
		c := &cobra.Command{
			Use:   action + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withClient(cmd, func(c *sdk.Client) error {
					resp, err := call(func(ctx context.Context) (*exchangev1.DecideProposalResponse, error) {
						return c.Catalog.DecideProposal(ctx, &exchangev1.DecideProposalRequest{Id: args[0], Action: action, Comment: comment})
					})
					if err != nil {
						return err
					}
					if global.json {
						return printProto(cmd.OutOrStdout(), resp)
					}
					if err := printProposal(cmd.OutOrStdout(), resp.GetProposal()); err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout())
					return printResources(cmd.OutOrStdout(), resp.GetResource())
				})
			},
		}
		c.Flags().StringVar(&comment, "comment", "", "why (required to reject)")
		return c
	}
	cmd.AddCommand(list, get,
		decide("approve", "Coordinator: approve a proposal; the change takes effect at once as a new version"),
		decide("reject", "Coordinator: reject a proposal (--comment says why); sharing continues unchanged"),
		decide("withdraw", "Provider: withdraw your own proposal"))
	return cmd
}
