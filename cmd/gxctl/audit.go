package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
)

func init() { root.AddCommand(auditCmd()) }

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log: signed heads, records, proofs and offline verification"}

	head := &cobra.Command{
		Use:   "head",
		Short: "Show the latest signed tree head and anchor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dial(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := callContext()
			defer cancel()
			h, err := c.Audit.GetTreeHead(ctx, &auditv1.GetTreeHeadRequest{})
			if err != nil {
				return callErr(err)
			}
			a, aerr := c.Audit.GetAnchor(ctx, &auditv1.GetAnchorRequest{})
			if global.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"head": h, "anchor": a})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "log %s  size %d  root %x  signed %s\n", h.GetLogId(), h.GetTreeSize(), h.GetRootHash(), h.GetTime().AsTime().Format(time.RFC3339))
			if aerr == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "anchored: block %d (%s) covers size %d\n", a.GetHeight(), a.GetRef(), a.GetHead().GetTreeSize())
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "anchored: none yet")
			}
			return nil
		},
	}

	var out string
	proof := &cobra.Command{
		Use:   "proof INDEX",
		Short: "Fetch a record's receipt (inclusion proof up to an anchored head), verify it, and save it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			idx, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return exitf(2, "INDEX must be a record number (0, 1, ...)")
			}
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := callContext()
			defer cancel()
			r, err := c.AuditReceipt(ctx, idx)
			if err != nil {
				return callErr(err)
			}
			rec, err := sdk.VerifyAuditReceipt(r, "")
			if err != nil {
				return exitf(1, "receipt does not verify: %v", err)
			}
			if out != "" {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return exitf(2, "write %s: %v", out, err)
				}
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "record %d: %s by %s at %s, outcome %s\n", idx, rec.Kind, rec.Department, rec.Time.Format(time.RFC3339), rec.Outcome)
			fmt.Fprintf(w, "included in signed head of size %d (root %x): verified\n", r.Head.Size, r.Head.Root)
			if r.Anchored {
				fmt.Fprintf(w, "anchored in block %d (%s): verified\n", r.Anchor.Height, r.Anchor.Ref)
			} else {
				fmt.Fprintln(w, "not anchored yet: the next anchoring interval will cover it")
			}
			if out != "" {
				fmt.Fprintf(w, "receipt saved to %s (check offline: gxctl audit verify %s)\n", out, out)
			}
			return nil
		},
	}
	proof.Flags().StringVarP(&out, "out", "o", "", "save the receipt (JSON) for offline verification")

	var logKey string
	verifyCmd := &cobra.Command{
		Use:   "verify RECEIPT.json",
		Short: "Verify a saved receipt offline (no hub needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return exitf(2, "%v", err)
			}
			var r sdk.AuditReceipt
			if err := json.Unmarshal(b, &r); err != nil {
				return exitf(2, "%s is not a receipt: %v", args[0], err)
			}
			trusted := ""
			if logKey != "" {
				k, err := os.ReadFile(logKey)
				if err != nil {
					return exitf(2, "--log-key: %v", err)
				}
				trusted = string(k)
			}
			rec, err := sdk.VerifyAuditReceipt(&r, trusted)
			if err != nil {
				return exitf(1, "INVALID: %v", err)
			}
			msg := "VALID: record %d (%s by %s, %s) is in the signed head of size %d"
			if r.Anchored {
				msg += fmt.Sprintf(", anchored in block %d", r.Anchor.Height)
			}
			fmt.Fprintf(cmd.OutOrStdout(), msg+"\n", r.Index, rec.Kind, rec.Department, rec.Outcome, r.Head.Size)
			if trusted == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: checked with the key inside the receipt; pass --log-key with the log key obtained out of band to pin it")
			}
			return nil
		},
	}
	verifyCmd.Flags().StringVar(&logKey, "log-key", "", "PEM of the log's public key (from `gxctl audit key` on a trusted channel)")

	key := &cobra.Command{
		Use:   "key",
		Short: "Print the log's public key (PEM) to pin for offline verification",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dial(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := callContext()
			defer cancel()
			info, err := c.Audit.GetLogInfo(ctx, &auditv1.GetLogInfoRequest{})
			if err != nil {
				return callErr(err)
			}
			fmt.Fprint(cmd.OutOrStdout(), strings.TrimSpace(info.GetPublicKeyPem())+"\n")
			return nil
		},
	}
	cmd.AddCommand(head, proof, verifyCmd, key)
	return cmd
}
