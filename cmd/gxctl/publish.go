package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func init() { root.AddCommand(publishCmd()) }

// jsonlChange is one line of a records file.
type jsonlChange struct {
	Op      string            `json:"op"` // upsert (default) or delete
	Subject string            `json:"subject"`
	Fields  map[string]string `json:"fields"`
}

// readChanges reads a records file; lines[i] is the file line of change i.
func readChanges(path string) (changes []*exchangev1.RecordChange, lines []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, exitf(2, "%v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var c jsonlChange
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, nil, exitf(2, "%s line %d: not a JSON object: %v", path, n, err)
		}
		op := exchangev1.ChangeOp_CHANGE_OP_UPSERT
		switch c.Op {
		case "", "upsert":
		case "delete":
			op = exchangev1.ChangeOp_CHANGE_OP_DELETE
		default:
			return nil, nil, exitf(2, "%s line %d: op must be upsert or delete, got %q", path, n, c.Op)
		}
		changes = append(changes, &exchangev1.RecordChange{Op: op, Subject: c.Subject, Fields: c.Fields})
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, exitf(2, "%s: %v", path, err)
	}
	return changes, lines, nil
}

// publishErr names the file line of the change a refused batch failed on (the hub
// counts changes within the batch; the batch is changes [first, last) of the file), or the
// batch's lines when the error is about the whole batch.
func publishErr(err error, path string, lines []int, first, last int) error {
	if unreachable(dialedURL, err) != "" {
		return callErr(err)
	}
	if n, e := strconv.Atoi(sdk.ErrorMeta(err)[exchange.MetaChange]); e == nil && n >= 1 && first+n-1 < last {
		return exitf(1, "%s line %d: %v", path, lines[first+n-1], callErr(err))
	}
	if last-first == 1 {
		return exitf(1, "%s line %d: %v", path, lines[first], callErr(err))
	}
	return exitf(1, "%s lines %d–%d: %v", path, lines[first], lines[last-1], callErr(err))
}

func publishCmd() *cobra.Command {
	var resource, file, batchID string
	var batchSize int
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish records of a resource from a JSON Lines file, in signed atomic batches",
		Long: `Publish records (A4). Each line of --file is {"op":"upsert"|"delete","subject":"…","fields":{…}}.
Lines are sent in batches of --batch-size; each batch is signed by your department and
applied atomically (all of it or none). Batch ids are --batch-id plus "-N". Re-running with
the same --batch-id and file resumes a failed run: batches the hub already has with the
same content are skipped, the rest are sent; a batch id already used for other content is
refused (BATCH_EXISTS). Errors name the file line of the failing record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if resource == "" || file == "" {
				return exitf(2, "--resource and --file are required")
			}
			if batchSize < 1 || batchSize > 10000 {
				return exitf(2, "--batch-size must be 1..10000")
			}
			changes, lines, err := readChanges(file)
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
			done, skipped := 0, 0
			bar := newProgress(cmd.ErrOrStderr(), "published", "records", len(changes))
			for i := 0; i*batchSize < len(changes); i++ {
				part := changes[i*batchSize : min((i+1)*batchSize, len(changes))]
				ctx, cancel := callContext()
				resp, err := c.Records.Publish(ctx, &exchangev1.PublishRequest{Resource: resource, BatchId: fmt.Sprintf("%s-%d", batchID, i+1), Changes: part})
				cancel()
				if err != nil {
					bar.set(done+skipped, fmt.Sprintf("batch %s-%d failed; fix the file and resume with --batch-id %s", batchID, i+1, batchID))
					bar.done()
					return publishErr(err, file, lines, i*batchSize, min((i+1)*batchSize, len(changes)))
				}
				detail := "" // a terminal shows the bar; logs get one line per batch, to resume from
				if resp.GetAlreadyPublished() {
					skipped += len(resp.GetVersions())
					detail = fmt.Sprintf("batch %s: already published with the same content, skipped", resp.GetBatchId())
				} else {
					done += len(resp.GetVersions())
					if !bar.tty {
						detail = fmt.Sprintf("batch %s: %d records (audit #%d)", resp.GetBatchId(), len(resp.GetVersions()), resp.GetAuditReference())
					}
				}
				bar.set(done+skipped, detail)
			}
			bar.done()
			if global.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"resource": resource, "published": done, "already_published": skipped, "batch_id": batchID})
			}
			if skipped > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%d records published to %s (%d already published by an earlier run, skipped)\n", done, resource, skipped)
				return nil
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
