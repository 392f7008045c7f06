package sdk

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/exchange/batchfile"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/reqsig"
)

// VerifyBatchManifest checks a batch manifest signed by the hub (with its pull-response
// key, as pulls are) and returns the signed manifest.
func VerifyBatchManifest(resp *exchangev1.BatchManifestResponse, hubKey *ecdsa.PublicKey) (*exchangev1.BatchManifest, error) {
	if resp == nil || len(resp.GetPayload()) == 0 {
		return nil, errors.New("the batch manifest has no signed payload")
	}
	if hubKey == nil {
		return nil, errors.New("no hub key to verify with: fetch pull_key_pem from AuditService.GetLogInfo and keep it")
	}
	if err := sm.Verify(hubKey, resp.GetPayload(), resp.GetSignature()); err != nil {
		return nil, fmt.Errorf("the hub's signature over the batch manifest does not verify: %w", err)
	}
	var m exchangev1.BatchManifest
	if err := proto.Unmarshal(resp.GetPayload(), &m); err != nil {
		return nil, fmt.Errorf("the signed batch manifest does not decode: %w", err)
	}
	return &m, nil
}

// VerifyBatchFile checks a batch file against its verified manifest: size, SM3, encoding,
// record count and the records' Merkle root.
func VerifyBatchFile(m *exchangev1.BatchManifest, content []byte) error {
	return batchfile.CheckBatchFile(m, content)
}

// FetchedBatch is a batch file written by FetchBatch.
type FetchedBatch struct {
	// Manifest is the verified manifest; Response the signed response it came in.
	Manifest *exchangev1.BatchManifest
	Response *exchangev1.BatchManifestResponse
	// Resumed is how many bytes of an earlier partial download were kept.
	Resumed int64
}

// FetchBatch creates a batch file at the hub (PullService.CreateBatch) and downloads it to
// out. The download goes to out+".part" (the signed manifest beside it, out+".part.manifest"):
// when both exist from an interrupted fetch of the same request, only the missing bytes are
// asked for (HTTP Range, If-Range on the file's SM3) and the same file is completed. The
// manifest's signature is verified with hubKey, then the whole file's SM3, encoding, record
// count and records' Merkle root; only then is out written (renamed into place). A file
// that fails a check is removed with its manifest, out is left untouched, and the error
// says what failed. progress, if set, is called as bytes arrive (done, total).
func (c *Client) FetchBatch(ctx context.Context, req *exchangev1.CreateBatchRequest, hubKey *ecdsa.PublicKey, out string, progress func(done, total int64)) (*FetchedBatch, error) {
	if c.id == nil {
		return nil, errors.New("fetching a batch file needs a department identity")
	}
	part, mpath := out+".part", out+".part.manifest"
	fb := &FetchedBatch{}
	var m *exchangev1.BatchManifest
	if b, err := os.ReadFile(mpath); err == nil {
		resp := &exchangev1.BatchManifestResponse{}
		if proto.Unmarshal(b, resp) == nil {
			if pm, err := VerifyBatchManifest(resp, hubKey); err == nil && sameBatchRequest(pm, req) {
				m, fb.Response = pm, resp
			}
		}
	}
	if m == nil {
		resp, err := c.Pulls.CreateBatch(ctx, req)
		if err != nil {
			return nil, err
		}
		if m, err = VerifyBatchManifest(resp, hubKey); err != nil {
			return nil, err
		}
		fb.Response = resp
		b, err := proto.Marshal(resp)
		if err != nil {
			return nil, err
		}
		if err := writeFileSync(mpath, b); err != nil {
			return nil, fmt.Errorf("keep the manifest beside the partial download: %w", err)
		}
		if err := os.Remove(part); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	fb.Manifest = m
	have, err := c.downloadBatch(ctx, fb.Response.GetDownloadPath(), m, part, progress)
	fb.Resumed = have
	if err != nil {
		return fb, err
	}
	content, err := os.ReadFile(part)
	if err != nil {
		return fb, err
	}
	if err := VerifyBatchFile(m, content); err != nil {
		_ = os.Remove(part)
		_ = os.Remove(mpath)
		return fb, fmt.Errorf("batch file %s failed verification, nothing was written to %s: %w", m.GetBatchId(), out, err)
	}
	if err := os.Rename(part, out); err != nil {
		return fb, err
	}
	_ = os.Remove(mpath)
	return fb, nil
}

// sameBatchRequest reports whether a kept manifest answers req (a resumed fetch of it).
func sameBatchRequest(m *exchangev1.BatchManifest, req *exchangev1.CreateBatchRequest) bool {
	format := req.GetFormat()
	if format == "" {
		format = "jsonl"
	}
	return m.GetRequirementId() == req.GetRequirementId() && (req.GetMatterCode() == "" || m.GetMatterCode() == req.GetMatterCode()) &&
		m.GetSince() == req.GetSince() && m.GetFormat() == format
}

// downloadBatch completes part from the hub and returns how many bytes it already held.
func (c *Client) downloadBatch(ctx context.Context, path string, m *exchangev1.BatchManifest, part string, progress func(done, total int64)) (int64, error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	have, total := st.Size(), m.GetFileSize()
	if have > total {
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		have = 0
	}
	if have == total {
		return have, nil
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return have, err
	}
	h, err := reqsig.Sign(c.id.Key, c.id.KeyID(), http.MethodGet, path, nil, c.now())
	if err != nil {
		return have, err
	}
	r.Header.Set(reqsig.HeaderName, h)
	if have > 0 {
		r.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		r.Header.Set("If-Range", `"`+hex.EncodeToString(m.GetFileSm3())+`"`)
	}
	resp, err := c.http.Do(r)
	if err != nil {
		return have, fmt.Errorf("download batch file %s: %w", m.GetBatchId(), err)
	}
	defer resp.Body.Close()
	start := int64(0)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start = have
	case http.StatusOK:
		have = 0
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return have, fmt.Errorf("download batch file %s: %s: %s", m.GetBatchId(), resp.Status, b)
	}
	if err := f.Truncate(start); err != nil {
		return have, err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return have, err
	}
	done := start
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return have, err
			}
			done += int64(n)
			if progress != nil {
				progress(done, total)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return have, fmt.Errorf("download batch file %s interrupted at %d of %d bytes (run again to resume): %w", m.GetBatchId(), done, total, rerr)
		}
	}
	return have, f.Sync()
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
