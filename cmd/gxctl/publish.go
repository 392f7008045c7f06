package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(publishCmd()) }

// jsonlChange is one line of a records file.
type jsonlChange struct {
	Op      string            `json:"op"` // upsert (default) or delete
	Subject string            `json:"subject"`
	Fields  map[string]string `json:"fields"`
}

func readChanges(path string) ([]*exchangev1.RecordChange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exitf(2, "%v", err)
	}
	defer f.Close()
	var out []*exchangev1.RecordChange
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var c jsonlChange
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, exitf(2, "%s:%d: not a JSON object: %v", path, n, err)
		}
		op := exchangev1.ChangeOp_CHANGE_OP_UPSERT
		switch c.Op {
		case "", "upsert":
		case "delete":
			op = exchangev1.ChangeOp_CHANGE_OP_DELETE
		default:
			return nil, exitf(2, "%s:%d: op must be upsert or delete, got %q", path, n, c.Op)
		}
		out = append(out, &exchangev1.RecordChange{Op: op, Subject: c.Subject, Fields: c.Fields})
	}
	if err := sc.Err(); err != nil {
		return nil, exitf(2, "%s: %v", path, err)
	}
	return out, nil
}

func publishCmd() *cobra.Command {
	var resource, file, batchID string
	var batchSize int
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish records of a resource from a JSON Lines file, in signed atomic batches",
		Long: `Publish records (A4). Each line of --file is {"op":"upsert"|"delete","subject":"…","fields":{…}}.
Lines are sent in batches of --batch-size; each batch is signed by your department and
applied atomically (all of it or none). Batch ids are --batch-id plus "-N"; re-running with
the same id refuses already published batches, so a failed run can be resumed safely.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if resource == "" || file == "" {
				return exitf(2, "--resource and --file are required")
			}
			if batchSize < 1 || batchSize > 10000 {
				return exitf(2, "--batch-size must be 1..10000")
			}
			changes, err := readChanges(file)
			if err != nil {
				return err
			}
			if len(changes) == 0 {
				return exitf(2, "%s holds no records", file)
			}
			if batchID == "" {
				batchID = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)) + "-" + time.Now().UTC().Format("20060102T150405Z")
			}
			c, err := dial(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			done := 0
			bar := newProgress(cmd.ErrOrStderr(), "published", "records", len(changes))
			for i := 0; i*batchSize < len(changes); i++ {
				part := changes[i*batchSize : min((i+1)*batchSize, len(changes))]
				ctx, cancel := callContext()
				resp, err := c.Records.Publish(ctx, &exchangev1.PublishRequest{Resource: resource, BatchId: fmt.Sprintf("%s-%d", batchID, i+1), Changes: part})
				cancel()
				if err != nil {
					bar.set(done, fmt.Sprintf("batch %s-%d failed; resume with --batch-id %s", batchID, i+1, batchID))
					bar.done()
					return callErr(err)
				}
				done += len(resp.GetVersions())
				detail := "" // a terminal shows the bar; logs get one line per batch, to resume from
				if !bar.tty {
					detail = fmt.Sprintf("batch %s: %d records (audit #%d)", resp.GetBatchId(), len(resp.GetVersions()), resp.GetAuditReference())
				}
				bar.set(done, detail)
			}
			bar.done()
			if global.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"resource": resource, "published": done, "batch_id": batchID})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d records published to %s\n", done, resource)
			return nil
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "resource code")
	cmd.Flags().StringVar(&file, "file", "", "records file (JSON Lines)")
	cmd.Flags().StringVar(&batchID, "batch-id", "", "batch id prefix (default: file name and time)")
	cmd.Flags().IntVar(&batchSize, "batch-size", 1000, "records per signed batch (1..10000)")
	return cmd
}
