package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk"
	auditv1 "github.com/gxhub/gxhub/sdk/api/audit/v1"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(batchCmd()) }

func batchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "batch", Short: "Batch files of a batch_file requirement (snapshot or change set, signed manifest)"}
	var (
		req exchangev1.CreateBatchRequest
		out string
	)
	fetch := &cobra.Command{
		Use:   "fetch --requirement ID --out FILE [--matter CODE] [--since CURSOR] [--format jsonl|csv]",
		Short: "Fetch a batch file, verify its signed manifest, SM3 and Merkle root, then write FILE",
		Long: `Ask the hub for a batch file under a granted requirement whose provision method is
batch_file: a snapshot of every live record, or with --since CURSOR the change set after
that cursor (every version in order, deletions included). The records carry only the
approved items, masked unless clear text is approved, each with its vouch. The download goes
to FILE.part (the signed manifest beside it); an interrupted fetch run again with the same
flags resumes it with an HTTP Range request. gxctl verifies the manifest's signature (the
hub's pull-response key), the file's SM3, its records' Merkle root and count; only then is
FILE written (renamed into place). A file that fails a check is discarded and FILE is not
touched. Progress goes to stderr; stdout shows the manifest and the next cursor.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.RequirementId == "" || out == "" {
				return exitf(2, "--requirement and --out are required")
			}
			if req.Since != "" {
				if _, err := exchange.ParseCursor(req.Since); err != nil {
					return exitf(2, "--since: %v", err)
				}
			}
			if req.Format != "" && req.Format != exchange.BatchJSONL && req.Format != exchange.BatchCSV {
				return exitf(2, "--format must be jsonl or csv, got %q", req.Format)
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
			var bar *progress
			f, err := c.FetchBatch(ctx, &req, hubKey, out, func(done, total int64) {
				if bar == nil {
					bar = newProgress(cmd.ErrOrStderr(), "downloaded", "bytes", int(total))
				}
				bar.set(int(done), "")
			})
			if bar != nil {
				bar.done()
			}
			if err != nil {
				if f != nil && f.Manifest != nil && ctx.Err() != nil {
					return exitf(1, "interrupted: run the same command again to resume batch file %s", f.Manifest.GetBatchId())
				}
				return callErr(err)
			}
			m := f.Manifest
			w := cmd.OutOrStdout()
			if global.json {
				b, err := json.Marshal(struct {
					BatchID         string   `json:"batch_id"`
					File            string   `json:"file"`
					Kind            string   `json:"kind"`
					Format          string   `json:"format"`
					Records         int64    `json:"records"`
					Bytes           int64    `json:"bytes"`
					SM3             string   `json:"sm3"`
					RecordsRoot     string   `json:"records_root"`
					Since           string   `json:"since"`
					NextCursor      string   `json:"next_cursor"`
					Truncated       bool     `json:"truncated"`
					MaskedItems     []string `json:"masked_items"`
					AuditReferences []uint64 `json:"audit_references"`
					Resumed         int64    `json:"resumed_bytes"`
				}{m.GetBatchId(), out, m.GetKind(), m.GetFormat(), m.GetRecordCount(), m.GetFileSize(), hex.EncodeToString(m.GetFileSm3()),
					hex.EncodeToString(m.GetRecordsRoot()), m.GetSince(), m.GetNextCursor(), m.GetTruncated(), m.GetMaskedItems(),
					f.Response.GetAuditReferences(), f.Resumed})
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
				return nil
			}
			fmt.Fprintf(w, "batch file %s  %s of %s (%s), %d records, %d bytes -> %s\n", m.GetBatchId(), m.GetKind(), m.GetResource(), m.GetFormat(),
				m.GetRecordCount(), m.GetFileSize(), out)
			fmt.Fprintf(w, "manifest signature verified; SM3 %x and records root %x match\n", m.GetFileSm3(), m.GetRecordsRoot())
			if len(m.GetMaskedItems()) > 0 {
				fmt.Fprintf(w, "masked: %v\n", m.GetMaskedItems())
			}
			for _, fr := range m.GetFreshness() {
				state := "fresh"
				if fr.GetStale() {
					state = "STALE"
				}
				fmt.Fprintf(w, "freshness: %s %s\n", fr.GetResource(), state)
			}
			if f.Resumed > 0 {
				fmt.Fprintf(w, "resumed after %d bytes\n", f.Resumed)
			}
			if m.GetTruncated() {
				fmt.Fprintf(w, "more changes follow: fetch again with --since %s\n", m.GetNextCursor())
			}
			fmt.Fprintf(w, "audit records: %v\n", f.Response.GetAuditReferences())
			fmt.Fprintf(w, "next cursor: %s\n", m.GetNextCursor())
			return nil
		},
	}
	fetch.Flags().StringVar(&req.RequirementId, "requirement", "", "granted requirement id (provision method batch_file)")
	fetch.Flags().StringVar(&req.MatterCode, "matter", "", "matter code (事项编码) the data serves (default: the requirement's, when it covers one)")
	fetch.Flags().StringVar(&req.Operator, "operator", "", "operator inside your department")
	fetch.Flags().StringVar(&req.Since, "since", "", "cursor: the change set after it (the next cursor a fetch printed); empty: a snapshot")
	fetch.Flags().StringVar(&req.Format, "format", "", "jsonl (default) or csv")
	fetch.Flags().StringVar(&out, "out", "", "file to write once verified (FILE.part while downloading)")
	cmd.AddCommand(fetch)
	return cmd
}
