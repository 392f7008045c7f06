package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// checkPullCmd is `gxctl audit check-pull`: the offline check that a consumer received
// exactly what the provider published (docs/AUDIT.md, "Record integrity").
func checkPullCmd() *cobra.Command {
	var (
		receipts       []string
		hubKey, logKey string
	)
	cmd := &cobra.Command{
		Use:   "check-pull PULL.json --receipt PUBLISH-RECEIPT.json...",
		Short: "Check offline that the records of a saved pull are exactly what their providers published",
		Long: `Check a pull response saved with 'gxctl pull --out PULL.json' against the receipts of the
publish audit records that vouch for its records ('gxctl audit proof N --out R.json', run by an
auditor or by the provider; each record names its publish record in vouch.publish_record).
No hub is needed. Every record must be VALID for exit code 0; a record whose publish
receipt is missing is NOT CHECKED (exit 1), as is an invalid one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return exitf(2, "%v", err)
			}
			var resp exchangev1.PullResponse
			if err := protojson.Unmarshal(b, &resp); err != nil {
				return exitf(2, "%s is not a saved pull response (gxctl pull --out): %v", args[0], err)
			}
			keyPEM := resp.GetSignerPublicKeyPem()
			if hubKey != "" {
				k, err := os.ReadFile(hubKey)
				if err != nil {
					return exitf(2, "--hub-key: %v", err)
				}
				keyPEM = string(k)
			}
			pub, err := sm.ParsePublicKeyPEM([]byte(keyPEM))
			if err != nil {
				return exitf(1, "INVALID: the hub key does not parse: %v", err)
			}
			res, err := sdk.VerifyPull(&resp, pub)
			if err != nil {
				return exitf(1, "INVALID: %v", err)
			}
			trusted := ""
			if logKey != "" {
				k, err := os.ReadFile(logKey)
				if err != nil {
					return exitf(2, "--log-key: %v", err)
				}
				trusted = string(k)
			}
			byIndex := map[uint64]*sdk.AuditReceipt{}
			for _, p := range receipts {
				rb, err := os.ReadFile(p)
				if err != nil {
					return exitf(2, "%v", err)
				}
				var r sdk.AuditReceipt
				if err := json.Unmarshal(rb, &r); err != nil {
					return exitf(2, "%s is not a receipt (gxctl audit proof --out): %v", p, err)
				}
				byIndex[r.Index] = &r
			}
			w := cmd.OutOrStdout()
			bad := 0
			for _, rec := range res.GetRecords() {
				idx := rec.GetVouch().GetPublishRecord()
				r := byIndex[idx]
				switch {
				case rec.GetVouch() == nil:
					bad++
					fmt.Fprintf(w, "INVALID: %s version %d carries no vouch\n", rec.GetSubject(), rec.GetVersion())
				case r == nil:
					bad++
					fmt.Fprintf(w, "NOT CHECKED: %s version %d: no receipt of publish record %d given (gxctl audit proof %d --out R.json)\n", rec.GetSubject(), rec.GetVersion(), idx, idx)
				default:
					if _, err := sdk.VerifyPulledRecord(res, rec, r, trusted); err != nil {
						bad++
						fmt.Fprintf(w, "INVALID: %v\n", err)
						continue
					}
					fmt.Fprintf(w, "VALID: %s version %d (batch %s): the %d item(s) served are those %s published, vouched for by audit record %d\n",
						rec.GetSubject(), rec.GetVersion(), rec.GetBatchId(), len(rec.GetFields()), res.GetProvider(), idx)
				}
			}
			if hubKey == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the pull signature was checked with the key inside the response; pass --hub-key with the key obtained out of band to pin it")
			}
			if bad > 0 {
				return exitf(1, "%d of %d record(s) of pull %s not shown to be what was published", bad, len(res.GetRecords()), res.GetPullId())
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&receipts, "receipt", nil, "receipt of a publish audit record (repeat for several batches)")
	cmd.Flags().StringVar(&hubKey, "hub-key", "", "PEM of the key that signs pull responses (obtained on a trusted channel)")
	cmd.Flags().StringVar(&logKey, "log-key", "", "PEM of the log's public key (from `gxctl audit key` on a trusted channel)")
	return cmd
}
