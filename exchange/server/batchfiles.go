package server

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/batchfile"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// KindBatchFile is the audit record kind of a batch file made for a consumer: one record
// per subject of the file (its keyed hash), each carrying the SM3 of the file as response
// digest and the file's id as request id; the reason names the requirement.
const KindBatchFile ledger.Kind = "batch.file"

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
	content, root, err := batchfile.EncodeBatch(e)
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
