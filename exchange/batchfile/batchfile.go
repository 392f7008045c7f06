// Package batchfile encodes a batch file (a snapshot or change set of a requirement's
// approved items) and checks a downloaded one against its signed manifest: the hub encodes
// with it, the SDK and gxctl check with the same code.
package batchfile

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk/api/convert"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

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
