package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// KindBatchFile is the audit record kind of a batch file made for a consumer: one record
// per subject of the file (its keyed hash), each carrying the SM3 of the file as response
// digest and the file's id as request id; the reason names the requirement.
const KindBatchFile ledger.Kind = "batch.file"

// Batch file encoding (docs/ROLES.md, "Batch files"). Every record is one line:
//
//	jsonl  {"cursor":…,"subject":…,"version":…,"deleted":…,"published_at":…,"batch_id":…,"fields":{…},"vouch":…}
//	csv    a header line cursor,subject,version,deleted,published_at,batch_id,<items…>,vouch, then one row per record
//
// vouch is the base64 of the deterministic protobuf encoding of the record's RecordVouch
// (check a record offline like a pulled one). The manifest's records_root is the RFC 6962
// SM3 tree root over the records' bytes without their line end, in file order; csv rows
// are written by encoding/csv (a value with a line break is quoted and may span lines: the
// record is the row, not the physical line).
type batchLine struct {
	Cursor      int64             `json:"cursor"`
	Subject     string            `json:"subject"`
	Version     int64             `json:"version"`
	Deleted     bool              `json:"deleted"`
	PublishedAt string            `json:"published_at"`
	BatchID     string            `json:"batch_id"`
	Fields      map[string]string `json:"fields"`
	Vouch       string            `json:"vouch"`
}

func batchHeader(items []string) []string {
	return append(append([]string{"cursor", "subject", "version", "deleted", "published_at", "batch_id"}, items...), "vouch")
}

// EncodeBatch writes the export's records in its format and returns the file with the
// records' tree root.
func EncodeBatch(e *exchange.BatchExport) (content, root []byte, err error) {
	var buf bytes.Buffer
	rb := verify.NewRootBuilder()
	var cw *csv.Writer
	if e.Format == exchange.BatchCSV {
		cw = csv.NewWriter(&buf)
		if err := cw.Write(batchHeader(e.Items)); err != nil {
			return nil, nil, err
		}
		cw.Flush()
	}
	for _, r := range e.Rows {
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(convert.VouchToProto(r.Record.Vouch))
		if err != nil {
			return nil, nil, fmt.Errorf("encode a vouch: %w", err)
		}
		start := buf.Len()
		l := batchLine{Cursor: r.Seq, Subject: r.Record.Subject, Version: r.Record.Version, Deleted: r.Deleted,
			PublishedAt: r.Record.PublishedAt.UTC().Format(time.RFC3339Nano), BatchID: r.Record.Batch, Fields: r.Record.Fields,
			Vouch: base64.StdEncoding.EncodeToString(v)}
		if l.Fields == nil {
			l.Fields = map[string]string{}
		}
		if cw != nil {
			row := []string{strconv.FormatInt(l.Cursor, 10), l.Subject, strconv.FormatInt(l.Version, 10), strconv.FormatBool(l.Deleted), l.PublishedAt, l.BatchID}
			for _, it := range e.Items {
				row = append(row, l.Fields[it])
			}
			if err := cw.Write(append(row, l.Vouch)); err != nil {
				return nil, nil, err
			}
			cw.Flush()
			if err := cw.Error(); err != nil {
				return nil, nil, err
			}
		} else {
			b, err := json.Marshal(l)
			if err != nil {
				return nil, nil, err
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		rb.Add(bytes.TrimSuffix(buf.Bytes()[start:], []byte("\n")))
	}
	return buf.Bytes(), rb.Root(), nil
}

// CheckBatchFile checks a downloaded file against its verified manifest: size, SM3, the
// encoding (a csv file's header names the manifest's items, and re-encoding its rows gives
// the file back byte for byte), the record count and the records' tree root. It returns
// nil only when every check passed.
func CheckBatchFile(m *exchangev1.BatchManifest, content []byte) error {
	if int64(len(content)) != m.GetFileSize() {
		return fmt.Errorf("the file has %d bytes, the manifest says %d", len(content), m.GetFileSize())
	}
	if d := sm.Sum(content); !bytes.Equal(d[:], m.GetFileSm3()) {
		return fmt.Errorf("the file's SM3 %x is not the manifest's %x: the file was altered or corrupted", d[:], m.GetFileSm3())
	}
	rb := verify.NewRootBuilder()
	switch m.GetFormat() {
	case exchange.BatchJSONL:
		rest := content
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				return errors.New("the last record of the file has no line end")
			}
			var l batchLine
			if err := json.Unmarshal(rest[:i], &l); err != nil {
				return fmt.Errorf("record %d is not a JSON record: %w", rb.Size()+1, err)
			}
			rb.Add(rest[:i])
			rest = rest[i+1:]
		}
	case exchange.BatchCSV:
		r := csv.NewReader(bytes.NewReader(content))
		r.FieldsPerRecord = len(m.GetItems()) + 7
		header, err := r.Read()
		if err != nil {
			return fmt.Errorf("the csv header: %w", err)
		}
		if !slices.Equal(header, batchHeader(m.GetItems())) {
			return fmt.Errorf("the csv header %v does not name the manifest's items %v", header, m.GetItems())
		}
		var again bytes.Buffer
		cw := csv.NewWriter(&again)
		_ = cw.Write(header)
		cw.Flush()
		for {
			row, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("csv record %d: %w", rb.Size()+1, err)
			}
			start := again.Len()
			_ = cw.Write(row)
			cw.Flush()
			rb.Add(bytes.TrimSuffix(again.Bytes()[start:], []byte("\n")))
		}
		if !bytes.Equal(again.Bytes(), content) {
			return errors.New("the csv file is not in the hub's encoding (its rows do not re-encode to the same bytes)")
		}
	default:
		return fmt.Errorf("unknown batch file format %q", m.GetFormat())
	}
	if int64(rb.Size()) != m.GetRecordCount() {
		return fmt.Errorf("the file holds %d records, the manifest says %d", rb.Size(), m.GetRecordCount())
	}
	if !bytes.Equal(rb.Root(), m.GetRecordsRoot()) {
		return errors.New("the records' Merkle root is not the manifest's")
	}
	return nil
}

// BatchFiles makes batch files (PullService.CreateBatch) and serves their downloads.
type BatchFiles struct {
	Puller     *exchange.Puller
	Feed       exchange.ChangeFeed
	Signer     *PullSigner
	Store      store.Store
	Audit      *store.AuditWriter
	SubjectKey ledger.SubjectKeyFunc
	Log        *slog.Logger
}

// DownloadPath is where a batch file is downloaded from.
func DownloadPath(id string) string { return "/v1/batches/" + id + "/file" }

// Create makes one batch file: the export (every rule of exchange.Puller.Export), the file,
// the signed manifest, then the file and its audit records in one audited write.
func (b *BatchFiles) Create(ctx context.Context, caller *Caller, req *exchangev1.CreateBatchRequest) (*exchangev1.BatchManifestResponse, error) {
	operator := caller.OperatorID()
	if operator == "" {
		operator = req.GetOperator()
	}
	e, err := b.Puller.Export(ctx, exchange.BatchInput{Caller: caller.Department, Operator: operator, RequirementID: req.GetRequirementId(),
		MatterCode: req.GetMatterCode(), Since: req.GetSince(), Format: req.GetFormat()}, b.Feed)
	if err != nil {
		return nil, err
	}
	content, root, err := EncodeBatch(e)
	if err != nil {
		return nil, fmt.Errorf("encode batch file: %w", err)
	}
	digest := sm.Sum(content)
	m := &exchangev1.BatchManifest{BatchId: e.ID, RequirementId: e.Requirement.ID, Consumer: e.Consumer, Operator: e.Operator,
		Resource: e.Resource.Code, Provider: e.Resource.Provider, MatterCode: e.MatterCode, Kind: e.Kind, Since: e.Since,
		NextCursor: strconv.FormatInt(e.Next, 10), Format: e.Format, RecordCount: int64(len(e.Rows)), FileSm3: digest[:],
		FileSize: int64(len(content)), RecordsRoot: root, Items: e.Items, MaskedItems: e.Masked, AsOf: timestamppb.New(e.AsOf),
		Freshness: []*exchangev1.ResourceFreshness{FreshnessToProto(e.Freshness, e.Resource.Provider)}, ResourceVersion: int32(e.Resource.Version),
		PolicyVersion: e.PolicyVersion, Truncated: e.Truncated}
	for _, r := range e.Rows {
		if !slices.Contains(m.ProviderBatches, r.Record.Batch) {
			m.ProviderBatches = append(m.ProviderBatches, r.Record.Batch)
		}
	}
	slices.Sort(m.ProviderBatches)
	signed, err := b.Signer.sign(m)
	if err != nil {
		return nil, fmt.Errorf("sign batch manifest: %w", err)
	}
	base := ledger.Record{Kind: KindBatchFile, Time: e.AsOf, Department: e.Consumer, Operator: e.Operator, Resource: e.Resource.Code,
		DataItems: e.Items, Matter: e.MatterCode, Outcome: ledger.OutcomeGranted, ResponseDigest: digest[:], RequestID: e.ID,
		Reason: fmt.Sprintf("%s: %s batch file (%s, %d records, %d bytes) of requirement %s, next cursor %s%s", exchange.ReasonGranted, e.Kind, e.Format,
			len(e.Rows), len(content), e.Requirement.ID, m.NextCursor, e.Note)}
	refs, err := auditedWriteAll(ctx, b.Audit, func(ctx context.Context) ([]ledger.Record, error) {
		if err := b.Store.BatchFiles().Create(ctx, &store.BatchFile{ID: e.ID, Department: e.Consumer, Operator: e.Operator, RequirementID: e.Requirement.ID,
			Format: e.Format, Manifest: signed.Payload, Signature: signed.Signature, SM3: digest[:], CreatedAt: e.AsOf, Content: content}); err != nil {
			return nil, err
		}
		if len(e.Subjects) == 0 {
			return []ledger.Record{base}, nil
		}
		recs := make([]ledger.Record, len(e.Subjects))
		for i, s := range e.Subjects {
			recs[i] = base
			if b.SubjectKey != nil {
				recs[i].Subject = b.SubjectKey(s)
			}
		}
		return recs, nil
	})
	if err != nil {
		return nil, err
	}
	out := &exchangev1.BatchManifest{}
	if err := proto.Unmarshal(signed.Payload, out); err != nil {
		return nil, fmt.Errorf("decode signed batch manifest: %w", err)
	}
	return &exchangev1.BatchManifestResponse{Payload: signed.Payload, Signature: signed.Signature, SignerPublicKeyPem: b.Signer.PublicPEM(),
		AuditReferences: refs, Manifest: out, DownloadPath: DownloadPath(e.ID)}, nil
}

// CreateBatch implements PullService.CreateBatch.
func (p *Pulls) CreateBatch(ctx context.Context, req *exchangev1.CreateBatchRequest) (*exchangev1.BatchManifestResponse, error) {
	caller, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Batches == nil {
		return nil, exchange.Errorf(exchange.KindUnavailable, "BATCH_FILES_UNAVAILABLE", "this hub makes no batch files")
	}
	return p.Batches.Create(ctx, caller, req)
}

// batchReader reads a stored batch file's content (io.ReaderAt).
type batchReader struct {
	ctx   context.Context
	files store.BatchFiles
	id    string
}

func (r batchReader) ReadAt(p []byte, off int64) (int, error) {
	return r.files.ReadAt(r.ctx, r.id, p, off)
}

// ServeDownload serves GET /v1/batches/{batch_id}/file (behind HTTPAuth): the stored
// bytes, to the department the file was made for, while its requirement is still granted.
// HTTP Range (and If-Range with the ETag, the file's SM3 in hex) resumes a partial
// download. The file's records were audited when it was made; a download serves exactly
// those bytes again and adds no record.
func (b *BatchFiles) ServeDownload(w http.ResponseWriter, r *http.Request, params map[string]string) {
	caller, err := RequireCaller(r.Context())
	if err != nil {
		WriteHTTPError(w, r, b.Log, err)
		return
	}
	id := params["batch_id"]
	f, err := b.Store.BatchFiles().Get(r.Context(), id)
	if err == nil && f.Department != caller.Department.Code {
		err = exchange.Errorf(exchange.KindNotFound, "BATCH_NOT_FOUND", "no batch file %s of department %s", id, caller.Department.Code)
	}
	if err != nil {
		WriteHTTPError(w, r, b.Log, err)
		return
	}
	rq, err := b.Store.Requirements().Get(r.Context(), f.RequirementID)
	if err == nil && rq.State != exchange.ReqGranted {
		err = exchange.Errorf(exchange.KindPermissionDenied, exchange.ReasonRequirementRevoked,
			"requirement %s is %s: its batch files are no longer served", rq.ID, rq.State)
	}
	if err != nil {
		WriteHTTPError(w, r, b.Log, err)
		return
	}
	ctype := "application/x-ndjson"
	if f.Format == exchange.BatchCSV {
		ctype = "text/csv; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("ETag", `"`+hex.EncodeToString(f.SM3)+`"`)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, f.ID, f.Format))
	http.ServeContent(w, r, "", f.CreatedAt, io.NewSectionReader(batchReader{ctx: r.Context(), files: b.Store.BatchFiles(), id: f.ID}, 0, f.Size))
}
