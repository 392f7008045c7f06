package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(federationCmd()) }

// writeProtoFile writes m as JSON to path ("-" = stdout).
func writeProtoFile(cmd *cobra.Command, path string, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	if path == "-" || path == "" {
		_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return exitf(1, "write %s: %v", path, err)
	}
	return nil
}

func printAgreements(w io.Writer, as ...*exchangev1.Agreement) error {
	var tw table
	tw.row("ID", "STATE", "V", "SIDE", "PEER", "PEER LEVEL", "PEER REGION", "PROPOSER OFFERS", "ACCEPTOR OFFERS", "VALID UNTIL")
	for _, a := range as {
		tw.row(a.GetId(), a.GetState(), fmt.Sprint(a.GetVersion()), a.GetLocal(), a.GetPeerHub(), a.GetPeerLevel(), a.GetPeerRegion(),
			strings.Join(a.GetProposerOffers(), ","), strings.Join(a.GetAcceptorOffers(), ","), showTS(a.GetValidUntil()))
	}
	return tw.write(w)
}

// agreementFile is what coordinators hand each other: the terms and the signatures.
func agreementFile(a *exchangev1.Agreement) *exchangev1.AcceptAgreementRequest {
	return &exchangev1.AcceptAgreementRequest{Terms: a.GetTerms(), ProposerSignature: a.GetProposerSignature(), AcceptorSignature: a.GetAcceptorSignature()}
}

func federationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "federation", Aliases: []string{"fed"}, Short: "Federation with other hubs: agreements, remote resources, requirements and pulls (docs/FEDERATION.md)"}

	var cardOut string
	identity := &cobra.Command{
		Use:   "identity",
		Short: "Write this hub's signed identity card (give it to the other hub's coordinator)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				card, err := call(func(ctx context.Context) (*exchangev1.SignedDocument, error) {
					return c.Federation.GetHubCard(ctx, &exchangev1.GetHubCardRequest{})
				})
				if err != nil {
					return err
				}
				return writeProtoFile(cmd, cardOut, card)
			})
		},
	}
	identity.Flags().StringVarP(&cardOut, "output", "o", "-", "file to write the card to")

	var peerCard, until, id, propOut string
	var offers, requests []string
	propose := &cobra.Command{
		Use:     "propose --peer CARD --offer RESOURCE --request RESOURCE --until DATE -o FILE",
		Short:   "Propose an agreement to another hub (coordinator); writes the signed proposal to give its coordinator",
		Example: `  gxctl federation propose --peer city-card.json --offer 500000-GA-0001 --until 2027-12-31 -o agreement.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			card := &exchangev1.SignedDocument{}
			if err := readProtoFile(cmd, peerCard, card); err != nil {
				return err
			}
			u, err := time.ParseInLocation(time.DateOnly, until, time.UTC)
			if err != nil {
				return exitf(2, "--until %q: use YYYY-MM-DD", until)
			}
			req := &exchangev1.ProposeAgreementRequest{PeerCard: card, Offers: offers, Requests: requests, ValidUntil: timestamppb.New(u), Id: id}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.ProposeAgreementResponse, error) {
					return c.Federation.ProposeAgreement(ctx, req)
				})
				if err != nil {
					return err
				}
				if err := printAgreements(cmd.ErrOrStderr(), resp.GetAgreement()); err != nil {
					return err
				}
				return writeProtoFile(cmd, propOut, agreementFile(resp.GetAgreement()))
			})
		},
	}
	propose.Flags().StringVar(&peerCard, "peer", "", "the other hub's card (gxctl federation identity at that hub)")
	propose.Flags().StringSliceVar(&offers, "offer", nil, "a resource of this hub offered to the other hub (repeat)")
	propose.Flags().StringSliceVar(&requests, "request", nil, "a resource of the other hub asked for (repeat)")
	propose.Flags().StringVar(&until, "until", "", "last day of validity (YYYY-MM-DD)")
	propose.Flags().StringVar(&id, "id", "", "agreement id (default: generated)")
	propose.Flags().StringVarP(&propOut, "output", "o", "-", "file to write the signed proposal to")

	var accOut string
	accept := &cobra.Command{
		Use:   "accept FILE",
		Short: "Accept a proposal (countersign; the proposer is told) or, at the proposer, take the countersigned file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &exchangev1.AcceptAgreementRequest{}
			if err := readProtoFile(cmd, args[0], req); err != nil {
				return err
			}
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.AcceptAgreementResponse, error) {
					return c.Federation.AcceptAgreement(ctx, req)
				})
				if err != nil {
					return err
				}
				if err := printAgreements(cmd.OutOrStdout(), resp.GetAgreement()); err != nil {
					return err
				}
				if resp.GetPeerNotified() {
					fmt.Fprintln(cmd.OutOrStdout(), "the other hub has the countersigned agreement")
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "the other hub could not be told (%s): give its coordinator the countersigned file (-o) for `gxctl federation accept`\n", resp.GetPeerError())
				}
				if accOut != "" {
					return writeProtoFile(cmd, accOut, agreementFile(resp.GetAgreement()))
				}
				return nil
			})
		},
	}
	accept.Flags().StringVarP(&accOut, "output", "o", "", "file to write the countersigned agreement to")

	list := &cobra.Command{
		Use:   "list",
		Short: "List this hub's agreements",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.ListAgreementsResponse, error) {
					return c.Federation.ListAgreements(ctx, &exchangev1.ListAgreementsRequest{})
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				return printAgreements(cmd.OutOrStdout(), resp.GetAgreements()...)
			})
		},
	}

	change := func(name, short string) *cobra.Command {
		var reason string
		c := &cobra.Command{
			Use:   name + " ID --reason TEXT",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withClient(cmd, func(c *sdk.Client) error {
					resp, err := call(func(ctx context.Context) (*exchangev1.ChangeAgreementResponse, error) {
						return c.Federation.ChangeAgreement(ctx, &exchangev1.ChangeAgreementRequest{Id: args[0], Change: name, Reason: reason})
					})
					if err != nil {
						return err
					}
					if err := printAgreements(cmd.OutOrStdout(), resp.GetAgreement()); err != nil {
						return err
					}
					if !resp.GetPeerNotified() {
						fmt.Fprintf(cmd.OutOrStdout(), "the other hub could not be told (%s); the change holds here either way\n", resp.GetPeerError())
					}
					return nil
				})
			},
		}
		c.Flags().StringVar(&reason, "reason", "", "why (the other hub and the auditors read it)")
		return c
	}

	var resHub string
	var noSync bool
	resources := &cobra.Command{
		Use:   "resources",
		Short: "Synchronise and list the resources other hubs offer this hub, marked with their home hub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.ListRemoteResourcesResponse, error) {
					return c.Federation.ListRemoteResources(ctx, &exchangev1.ListRemoteResourcesRequest{Hub: resHub, Sync: !noSync})
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp)
				}
				var tw table
				tw.row("HOME HUB", "CODE", "NAME", "V", "SHARE", "PROVIDER", "ITEMS")
				for _, r := range resp.GetResources() {
					tw.row(r.GetHomeHub(), r.GetCode(), r.GetName(), fmt.Sprint(r.GetVersion()), r.GetShareType(), r.GetProvider(), strings.Join(r.GetItems(), ","))
				}
				for _, e := range resp.GetSyncErrors() {
					fmt.Fprintln(cmd.ErrOrStderr(), "not synchronised:", e)
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	resources.Flags().StringVar(&resHub, "hub", "", "only this home hub")
	resources.Flags().BoolVar(&noSync, "no-sync", false, "list the stored copies without asking the other hubs")

	cmd.AddCommand(identity, propose, accept, list, change("suspend", "Suspend an agreement (coordinator): nothing flows under it until this hub resumes it"),
		change("resume", "Resume an agreement this hub suspended"), change("end", "End an agreement (coordinator)"),
		resources, remoteRequirementCmd(), remotePullCmd(), verifyReceiptCmd())
	return cmd
}

func printRemoteRequirement(w io.Writer, r *exchangev1.RemoteRequirement) error {
	fmt.Fprintf(w, "%s  %s  at hub %s (agreement %s)\nconsumer %s → provider %s, resource %s\nitems %s\nmatters %s\n\n", r.GetId(), r.GetState(), r.GetHomeHub(), r.GetAgreement(),
		r.GetConsumer(), r.GetProvider(), r.GetResource(), strings.Join(r.GetItems(), ", "), strings.Join(r.GetMatterCodes(), ", "))
	var tw table
	tw.row("SEQ", "AT", "ACTION", "BY", "LEGAL BASIS", "COMMENT")
	for _, d := range r.GetDecisions() {
		tw.row(fmt.Sprint(d.GetSeq()), showTS(d.GetAt()), d.GetAction(), d.GetBy(), d.GetLegalBasis(), d.GetComment())
	}
	return tw.write(w)
}

func remoteRequirementCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "requirement", Aliases: []string{"req"}, Short: "Requirements for other hubs' resources: filed here, decided at the home hub"}
	var req exchangev1.FileRemoteRequirementRequest
	file := &cobra.Command{
		Use:   "file --hub HUB --resource CODE --item ITEM --matter CODE --duty TEXT",
		Short: "File a requirement for a remote resource (forwarded to its home hub, decided there)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.FileRemoteRequirementResponse, error) {
					return c.Federation.FileRemoteRequirement(ctx, &req)
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp.GetRequirement())
				}
				return printRemoteRequirement(cmd.OutOrStdout(), resp.GetRequirement())
			})
		},
	}
	file.Flags().StringVar(&req.HomeHub, "hub", "", "the resource's home hub")
	file.Flags().StringVar(&req.Resource, "resource", "", "resource code at the home hub")
	file.Flags().StringSliceVar(&req.Items, "item", nil, "data item (repeat)")
	file.Flags().StringSliceVar(&req.MatterCodes, "matter", nil, "matter code (事项编码, repeat)")
	file.Flags().StringVar(&req.LegalDuty, "duty", "", "the legal duty that needs the data")
	file.Flags().StringVar(&req.ScopeRegion, "region", "", "region (default: the resource's scope)")
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Read a remote requirement (asks its home hub for new decisions)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(c *sdk.Client) error {
				r, err := call(func(ctx context.Context) (*exchangev1.RemoteRequirement, error) {
					return c.Federation.GetRemoteRequirement(ctx, &exchangev1.GetRemoteRequirementRequest{Id: args[0]})
				})
				if err != nil {
					return err
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), r)
				}
				return printRemoteRequirement(cmd.OutOrStdout(), r)
			})
		},
	}
	cmd.AddCommand(file, get)
	return cmd
}

func remotePullCmd() *cobra.Command {
	var req exchangev1.PullRemoteRequest
	var p exchangev1.PullRequest
	var out string
	cmd := &cobra.Command{
		Use:   "pull --hub HUB --requirement ID --matter CODE --case NUMBER SUBJECT...",
		Short: "Pull from another hub's resource (forwarded; both hubs sign and audit it)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.HomeHub == "" || p.RequirementId == "" || p.MatterCode == "" || p.CaseNumber == "" {
				return exitf(2, "--hub, --requirement, --matter and --case are required")
			}
			p.Subjects = args
			req.Pull = &p
			return withClient(cmd, func(c *sdk.Client) error {
				resp, err := call(func(ctx context.Context) (*exchangev1.PullRemoteResponse, error) {
					return c.Federation.PullRemote(ctx, &req)
				})
				if err != nil {
					return err
				}
				check, err := verifyRemotePull(resp)
				if err != nil {
					return exitf(1, "the forwarded pull does not verify: %v", err)
				}
				if out != "" {
					if err := writeProtoFile(cmd, out, resp); err != nil {
						return err
					}
				}
				if global.json {
					return printProto(cmd.OutOrStdout(), resp.GetResult())
				}
				r := resp.GetResult()
				fmt.Fprintf(cmd.OutOrStdout(), "pull %s (at home hub %s: %s): resource %s, case %s (verified: both hubs' signatures)\naudit: this hub %v (forward, outcome), home hub %v\n",
					check.Receipt.PullID, req.GetHomeHub(), r.GetPullId(), r.GetResource(), r.GetCaseNumber(), resp.GetAuditReferences(), resp.GetHomeAuditReferences())
				var tw table
				tw.row("SUBJECT", "VERSION", "FIELDS")
				for _, rec := range r.GetRecords() {
					var fs []string
					for k, v := range rec.GetFields() {
						fs = append(fs, k+"="+v)
					}
					tw.row(rec.GetSubject(), fmt.Sprint(rec.GetVersion()), strings.Join(fs, " "))
				}
				return tw.write(cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().StringVar(&req.HomeHub, "hub", "", "the resource's home hub")
	cmd.Flags().StringVar(&p.RequirementId, "requirement", "", "the remote requirement (its home hub's id)")
	cmd.Flags().StringVar(&p.MatterCode, "matter", "", "matter code (事项编码)")
	cmd.Flags().StringVar(&p.CaseNumber, "case", "", "case number (办件编码) of an open case of your department")
	cmd.Flags().StringSliceVar(&p.Items, "item", nil, "data item (repeat; default all approved)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the whole signed response (with both receipts) to this file, for `gxctl federation verify-receipt`")
	return cmd
}

// verifyRemotePull verifies a forwarded pull's whole chain with the cards it carries:
// the consumer hub's card is self-signed, the home hub's card is the one the consumer
// hub's signed forward request was checked against.
func verifyRemotePull(resp *exchangev1.PullRemoteResponse) (*federation.ReceiptCheck, error) {
	ver := server.SM2Federation{}
	consumerHub, err := federation.OpenCard(ver, federation.Signed{Payload: resp.GetConsumerHubCard().GetPayload(), Signature: resp.GetConsumerHubCard().GetSignature()})
	if err != nil {
		return nil, fmt.Errorf("consumer hub card: %w", err)
	}
	var home federation.HubCard
	if err := json.Unmarshal(resp.GetHomeHubCard().GetPayload(), &home); err != nil {
		return nil, fmt.Errorf("home hub card: %w", err)
	}
	check, err := federation.VerifyReceipt(federation.Signed{Payload: resp.GetReceipt().GetPayload(), Signature: resp.GetReceipt().GetSignature()},
		consumerHub, &home, ver, server.SM3Hex, func(root, issuing string, c *federation.ConsumerRequest) error {
			_, err := server.VerifyConsumerRequestOffline(root, issuing, c)
			return err
		})
	if err != nil {
		return nil, err
	}
	if server.SM3Hex(resp.GetPayload()) != check.Receipt.PayloadDigest {
		return nil, fmt.Errorf("the result returned is not the one the receipts name")
	}
	return check, nil
}

func fingerprint(pemText string) string {
	d := sha256.Sum256([]byte(pemText))
	return hex.EncodeToString(d[:8])
}

func verifyReceiptCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify-receipt FILE",
		Short: "Verify a forwarded pull offline (the file `gxctl federation pull -o` wrote): both hubs' signatures and log indices",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp := &exchangev1.PullRemoteResponse{}
			if err := readProtoFile(cmd, args[0], resp); err != nil {
				return err
			}
			check, err := verifyRemotePull(resp)
			if err != nil {
				return exitf(1, "INVALID: %v", err)
			}
			r := check.Receipt
			fmt.Fprintf(cmd.OutOrStdout(), "VALID: pull %s of consumer %s\n", r.PullID, r.Consumer)
			fmt.Fprintf(cmd.OutOrStdout(), "  consumer hub %s: forward at log %s index %d, outcome at indices %v\n", r.ConsumerHub, r.LogID, r.ForwardIndex, r.OutcomeIndices)
			fmt.Fprintf(cmd.OutOrStdout(), "  home hub %s: pull records at log %s indices %v (each names index %d of %s)\n", r.HomeHub, r.HomeLogID, r.HomeAuditRefs, r.ForwardIndex, r.ConsumerHub)
			fmt.Fprintln(cmd.OutOrStdout(), "  checked: the consumer's own signature, the consumer hub's forward and receipt, the home hub's answer bound to that forward, the result signed by the home hub's pull key")
			fmt.Fprintln(cmd.OutOrStdout(), "  not checked here: that the hubs' CA roots are the ones your agreement pins (compare the fingerprints with `gxctl federation list --json`), and that the indices are in each hub's signed log (gxctl audit verify at each hub)")
			var home federation.HubCard
			_ = json.Unmarshal(resp.GetHomeHubCard().GetPayload(), &home)
			fmt.Fprintf(cmd.OutOrStdout(), "  root fingerprints (SHA-256 of the PEM, first 8 bytes): %s %s, %s %s\n", r.ConsumerHub, fingerprintOfCard(resp.GetConsumerHubCard().GetPayload()), home.ID, fingerprint(home.RootPEM))
			return nil
		},
	}
}

func fingerprintOfCard(payload []byte) string {
	var c federation.HubCard
	if json.Unmarshal(payload, &c) != nil {
		return "?"
	}
	return fingerprint(c.RootPEM)
}
