package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/certs/sm"
	adminv1 "github.com/gxhub/gxhub/sdk/api/admin/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

func init() { root.AddCommand(operatorCmd()) }

func operatorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Operators of your department: enrol (own SM2 key and certificate), list, suspend, resume, revoke"}

	var name, role, out, keyPW string
	var plaintext bool
	add := &cobra.Command{
		Use:   "add",
		Short: "Enrol an operator: make its SM2 key here, have the hub certify it, write its identity directory",
		Long: `Run as the department (its own identity) or as an operator holding the admin role. The
operator's SM2 key pair is made on this machine; only a certificate request (PKCS#10,
signed by that key) is sent. The hub's CA issues the operator's certificate, bound to
your department, and gives the operator --role in the department's policy. The
identity written to --out signs requests as that operator: gxctl --identity DIR ...; its
key is encrypted with the password in --key-password-file (or typed at the terminal),
--plaintext-key stores it unencrypted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return exitf(2, "--out DIR is required: where to write the operator's identity")
			}
			if _, err := os.Stat(filepath.Join(out, "key.pem")); err == nil {
				return exitf(2, "%s already holds an identity: choose another --out", out)
			}
			// The password is settled before the hub certifies anything, so that a refusal
			// leaves no enrolled operator without its key.
			pw, err := newKeyPassword(keyPW, plaintext, "the operator's key")
			if err != nil {
				return err
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			me := c.Identity()
			key, err := sm.GenerateKey()
			if err != nil {
				return err
			}
			csr, err := pki.CreateCSR(key, pki.DepartmentSubject{Code: me.Code, Name: name})
			if err != nil {
				return exitf(1, "%v", err)
			}
			resp, err := c.Operators.EnrolOperator(ctx, &adminv1.EnrolOperatorRequest{Name: name, Role: role, CsrPem: string(csr)})
			if err != nil {
				return callErr(err)
			}
			op := resp.GetOperator()
			id := &identity.Identity{Code: me.Code, Name: me.Name, HubURL: me.HubURL, Operator: op.GetSerial(), OperatorName: op.GetName(),
				Key: key, CertPEM: []byte(resp.GetCertificatePem()), CAChainPEM: []byte(resp.GetCaChainPem()), TLSCAPEM: me.TLSCAPEM}
			if err := id.Save(out, pw); err != nil {
				return exitf(1, "enrolled operator %s, but writing the identity failed: %v (revoke it with gxctl operator revoke %s)", op.GetSerial(), err, op.GetSerial())
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolled %s as %s of %s: certificate serial %s, valid until %s; identity written to %s (audit record %d)\n",
				op.GetName(), op.GetRole(), me.Code, op.GetSerial(), showTS(op.GetNotAfter()), out, resp.GetAuditReference())
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "the operator's name, e.g. 张三")
	add.Flags().StringVar(&role, "role", "", "admin, operator, approver or auditor")
	add.Flags().StringVar(&out, "out", "", "directory to write the operator's identity to")
	add.Flags().StringVar(&keyPW, "key-password-file", "", "file with the password that encrypts the operator's key (default: typed at the terminal)")
	add.Flags().BoolVar(&plaintext, "plaintext-key", false, "store the operator's key unencrypted (tests and demos only)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List your department's operators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			resp, err := c.Operators.ListOperators(ctx, &adminv1.ListOperatorsRequest{})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), resp)
			}
			var tw table
			tw.row("serial", "name", "role", "status", "valid until", "enrolled by", "enrolled at", "reason")
			for _, o := range resp.GetOperators() {
				tw.row(o.GetSerial(), o.GetName(), o.GetRole(), operatorStatus(o.GetStatus()), showTS(o.GetNotAfter()), o.GetEnrolledBy(),
					showTS(o.GetEnrolledAt()), o.GetStatusReason())
			}
			return tw.write(cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(add, list,
		operatorStatusCmd("suspend", "Suspend an operator: its requests are refused until resumed", adminv1.OperatorStatus_OPERATOR_STATUS_SUSPENDED),
		operatorStatusCmd("resume", "Resume a suspended operator", adminv1.OperatorStatus_OPERATOR_STATUS_ACTIVE),
		operatorStatusCmd("revoke", "Revoke an operator's certificate for good", adminv1.OperatorStatus_OPERATOR_STATUS_REVOKED))
	return cmd
}

func operatorStatus(s adminv1.OperatorStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "OPERATOR_STATUS_"))
}

func operatorStatusCmd(use, short string, to adminv1.OperatorStatus) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   use + " SERIAL",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return exitf(2, "--reason is required: say why (it is kept in the audit record)")
			}
			c, ctx, done, err := connect(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			o, err := c.Operators.ChangeOperatorStatus(ctx, &adminv1.ChangeOperatorStatusRequest{Serial: args[0], Status: to, Reason: reason})
			if err != nil {
				return callErr(err)
			}
			if global.json {
				return printProto(cmd.OutOrStdout(), o)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "operator %s (%s) is now %s\n", o.GetSerial(), o.GetName(), operatorStatus(o.GetStatus()))
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit record)")
	return cmd
}
