package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/server"
	"github.com/gxhub/gxhub/exchange/store/storetest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// batchRequirement stores 渝北's granted requirement on the test resource provided by
// batch file (items name and address; mut may change it).
func (dh *dataHub) batchRequirement(t testing.TB, id string, mut ...func(*exchange.Requirement)) string {
	t.Helper()
	return dh.storeRequirement(t, id, func(r *exchange.Requirement) {
		r.Items, r.ProvisionMethod = []string{"name", "address"}, exchange.ProvisionBatchFile
		for _, m := range mut {
			m(r)
		}
	})
}

type batchLine struct {
	Cursor  int64             `json:"cursor"`
	Subject string            `json:"subject"`
	Version int64             `json:"version"`
	Deleted bool              `json:"deleted"`
	BatchID string            `json:"batch_id"`
	Fields  map[string]string `json:"fields"`
}

func jsonLines(t *testing.T, b []byte) []batchLine {
	t.Helper()
	var out []batchLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l batchLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		out = append(out, l)
	}
	return out
}

// TestBatchFiles makes snapshots and change sets of a batch_file requirement on a real hub
// and fetches them with the SDK's FetchBatch (what gxctl batch fetch runs): the signed
// manifest, the SM3 and the Merkle root verify; only approved items are in the file's bytes,
// masked unless clear text is approved; each file is audited, one record per subject; a
// resumed download completes the same bytes and a corrupted one is caught before the file
// is written; refusals say why.
func TestBatchFiles(t *testing.T) {
	ctx := context.Background()
	dh := startDataHub(t, cst("2026-03-02 09:00"))
	rid := dh.batchRequirement(t, "REQ-YB-BATCH")
	a, b, c := storetest.IDNumber(31), storetest.IDNumber(32), storetest.IDNumber(33)
	dh.publish(t, "bf-1", a, b, c) // ethnicity 汉, 土家, 苗: never approved
	dh.clock.Set(cst("2026-03-02 10:00"))
	dh.publish(t, "bf-2", a) // a moves to version 2
	hubKey := &dh.h.PullKey.PublicKey
	yubei := dh.c(dh.yubei)
	dir := t.TempDir()

	before := dh.auditSize(t)
	out := filepath.Join(dir, "snapshot.jsonl")
	var progressed int64
	snap, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1}, hubKey, out,
		func(done, total int64) { progressed = done; require.LessOrEqual(t, done, total) })
	require.NoError(t, err)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	m := snap.Manifest
	require.Equal(t, int64(len(raw)), progressed)

	t.Run("ok/snapshot: every live record at its newest version, verified", func(t *testing.T) {
		require.NoError(t, sdk.VerifyBatchFile(m, raw))
		require.Equal(t, exchange.BatchSnapshot, m.GetKind())
		require.Equal(t, "jsonl", m.GetFormat())
		require.Equal(t, rid, m.GetRequirementId())
		require.Equal(t, dh.yubei.Code, m.GetConsumer())
		require.Equal(t, dh.police.Code, m.GetProvider())
		require.Equal(t, int64(3), m.GetRecordCount())
		require.Equal(t, []string{"bf-1", "bf-2"}, m.GetProviderBatches())
		require.Len(t, m.GetFreshness(), 1)
		require.Equal(t, dh.resource, m.GetFreshness()[0].GetResource())
		lines := jsonLines(t, raw)
		require.Len(t, lines, 3)
		got := map[string]batchLine{}
		for _, l := range lines {
			got[l.Subject] = l
		}
		require.Equal(t, int64(2), got[a].Version)
		require.Equal(t, "bf-2", got[a].BatchID)
		require.Equal(t, int64(1), got[b].Version)
		next, err := strconv.ParseInt(m.GetNextCursor(), 10, 64)
		require.NoError(t, err)
		require.Equal(t, next, slices.MaxFunc(lines, func(x, y batchLine) int { return int(x.Cursor - y.Cursor) }).Cursor)
	})

	t.Run("ok/only approved items, masked, in the raw bytes", func(t *testing.T) {
		require.Equal(t, []string{"name", "address"}, m.GetItems())
		require.Equal(t, []string{"name", "address"}, m.GetMaskedItems())
		for _, clear := range []string{"汉", "土家", "苗", "ethnicity", "测试", "渝北区bf"} {
			require.NotContains(t, string(raw), clear, "nothing beyond the approved, masked items leaves the hub")
		}
		for _, l := range jsonLines(t, raw) {
			require.Equal(t, map[string]string{"name": "***", "address": "重庆市渝北区***"}, l.Fields)
		}
	})

	t.Run("ok/audited per file, one record per subject with the file's SM3", func(t *testing.T) {
		var recs []ledger.Record
		for _, e := range dh.auditFrom(t, before) {
			if e.Record.Kind == server.KindBatchFile {
				recs = append(recs, e.Record)
			}
		}
		require.Len(t, recs, 3)
		var subjects []ledger.SubjectKey
		for _, r := range recs {
			require.Equal(t, m.GetBatchId(), r.RequestID)
			require.Equal(t, m.GetFileSm3(), r.ResponseDigest)
			require.Equal(t, dh.yubei.Code, r.Department)
			require.Equal(t, matter1, r.Matter)
			require.Equal(t, ledger.OutcomeGranted, r.Outcome)
			require.Contains(t, r.Reason, rid)
			require.Contains(t, r.Reason, "masked: name, address")
			subjects = append(subjects, r.Subject)
		}
		require.ElementsMatch(t, []ledger.SubjectKey{dh.h.Audit.SubjectKey(a), dh.h.Audit.SubjectKey(b), dh.h.Audit.SubjectKey(c)}, subjects)
		require.ElementsMatch(t, snap.Response.GetAuditReferences(), func() []uint64 {
			var idx []uint64
			for _, e := range dh.auditFrom(t, before) {
				if e.Record.Kind == server.KindBatchFile {
					idx = append(idx, e.Index)
				}
			}
			return idx
		}())
	})

	t.Run("ok/change set after the snapshot's cursor: every version in order", func(t *testing.T) {
		dh.publish(t, "bf-3", b)
		dh.publish(t, "bf-4", b)
		del := &exchangev1.PublishRequest{Resource: dh.resource, BatchId: "bf-5", Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_DELETE, Subject: c}}}
		_, err := dh.c(dh.police).Records.Publish(ctx, del)
		require.NoError(t, err)
		out := filepath.Join(dir, "changes.jsonl")
		ch, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1, Since: m.GetNextCursor()}, hubKey, out, nil)
		require.NoError(t, err)
		raw, err := os.ReadFile(out)
		require.NoError(t, err)
		require.NoError(t, sdk.VerifyBatchFile(ch.Manifest, raw))
		require.Equal(t, exchange.BatchChanges, ch.Manifest.GetKind())
		require.Equal(t, m.GetNextCursor(), ch.Manifest.GetSince())
		lines := jsonLines(t, raw)
		require.Len(t, lines, 3)
		require.Equal(t, []string{b, b, c}, []string{lines[0].Subject, lines[1].Subject, lines[2].Subject})
		require.Equal(t, []int64{2, 3, 2}, []int64{lines[0].Version, lines[1].Version, lines[2].Version}, "each change delivers the version it created")
		require.True(t, lines[2].Deleted)
		require.Empty(t, lines[2].Fields)
		require.Less(t, lines[0].Cursor, lines[1].Cursor)
		require.Equal(t, strconv.FormatInt(lines[2].Cursor, 10), ch.Manifest.GetNextCursor())

		empty, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1, Since: ch.Manifest.GetNextCursor()}, hubKey,
			filepath.Join(dir, "empty.jsonl"), nil)
		require.NoError(t, err)
		require.Zero(t, empty.Manifest.GetRecordCount())
		require.Equal(t, ch.Manifest.GetNextCursor(), empty.Manifest.GetNextCursor())

		// No matter named: the requirement's one matter.
		all, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, Since: "0"}, hubKey, filepath.Join(dir, "all.jsonl"), nil)
		require.NoError(t, err)
		require.Equal(t, int64(7), all.Manifest.GetRecordCount(), "from cursor 0: every version ever published")
		require.Equal(t, matter1, all.Manifest.GetMatterCode())
	})

	t.Run("ok/csv verifies, with the items as columns", func(t *testing.T) {
		out := filepath.Join(dir, "snapshot.csv")
		f, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1, Format: "csv"}, hubKey, out, nil)
		require.NoError(t, err)
		raw, err := os.ReadFile(out)
		require.NoError(t, err)
		require.NoError(t, sdk.VerifyBatchFile(f.Manifest, raw))
		require.True(t, strings.HasPrefix(string(raw), "cursor,subject,version,deleted,published_at,batch_id,name,address,vouch\n"))
		require.Equal(t, int64(2), f.Manifest.GetRecordCount(), "c was deleted")
		require.NotContains(t, string(raw), "土家")
		require.NotContains(t, string(raw), "测试")
	})

	// A kept manifest and a partial file, as an interrupted fetch leaves them.
	resp, err := yubei.Pulls.CreateBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1})
	require.NoError(t, err)
	kept, err := proto.Marshal(resp)
	require.NoError(t, err)
	interrupted := func(out string, part []byte) {
		require.NoError(t, os.WriteFile(out+".part.manifest", kept, 0o600))
		require.NoError(t, os.WriteFile(out+".part", part, 0o600))
	}
	full := filepath.Join(dir, "full.jsonl")
	interrupted(full, nil)
	first, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1}, hubKey, full, nil)
	require.NoError(t, err)
	require.Equal(t, resp.GetManifest().GetBatchId(), first.Manifest.GetBatchId(), "the kept manifest's file was fetched")
	fullBytes, err := os.ReadFile(full)
	require.NoError(t, err)
	require.Greater(t, len(fullBytes), 100)

	t.Run("ok/a resumed download completes the same bytes", func(t *testing.T) {
		out := filepath.Join(dir, "resumed.jsonl")
		half := int64(len(fullBytes) / 2)
		interrupted(out, fullBytes[:half])
		got, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1}, hubKey, out, nil)
		require.NoError(t, err)
		require.Equal(t, half, got.Resumed)
		require.Equal(t, resp.GetManifest().GetBatchId(), got.Manifest.GetBatchId())
		again, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, fullBytes, again)
		require.NoFileExists(t, out+".part")
		require.NoFileExists(t, out+".part.manifest")
	})

	t.Run("bad/a flipped byte is caught and nothing is written", func(t *testing.T) {
		out := filepath.Join(dir, "flipped.jsonl")
		part := slices.Clone(fullBytes[:len(fullBytes)/2])
		part[10] ^= 0x01
		interrupted(out, part)
		_, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1}, hubKey, out, nil)
		require.ErrorContains(t, err, "SM3")
		require.NoFileExists(t, out)
		require.NoFileExists(t, out+".part", "the corrupt part is dropped: the next fetch starts afresh")
		// The same check on a complete file with one byte changed.
		flipped := slices.Clone(fullBytes)
		flipped[len(flipped)-5] ^= 0x20
		require.ErrorContains(t, sdk.VerifyBatchFile(first.Manifest, flipped), "SM3")
		// A manifest whose signature does not verify is refused before anything is fetched.
		forged := proto.Clone(resp).(*exchangev1.BatchManifestResponse)
		forged.Payload = slices.Clone(forged.Payload)
		forged.Payload[len(forged.Payload)-1] ^= 0x01
		_, err = sdk.VerifyBatchManifest(forged, hubKey)
		require.ErrorContains(t, err, "signature")
	})

	t.Run("ok/clear text only where approved", func(t *testing.T) {
		clear := dh.batchRequirement(t, "REQ-YB-BATCH-CLEAR", func(r *exchange.Requirement) {
			r.ClearText = []exchange.ClearText{{Item: "address"}}
		})
		out := filepath.Join(dir, "clear.jsonl")
		f, err := yubei.FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: clear, MatterCode: matter1}, hubKey, out, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"name"}, f.Manifest.GetMaskedItems())
		raw, err := os.ReadFile(out)
		require.NoError(t, err)
		for _, l := range jsonLines(t, raw) {
			require.Equal(t, "***", l.Fields["name"])
			require.True(t, strings.HasPrefix(l.Fields["address"], "重庆市渝北区bf-"), l.Fields["address"])
		}
		require.NotContains(t, string(raw), "土家")
	})

	t.Run("bad/refusals say why", func(t *testing.T) {
		narrow := dh.batchRequirement(t, "REQ-YB-BATCH-NARROW", func(r *exchange.Requirement) { r.ScopeRegion = "500112" })
		for _, tc := range []struct {
			req    *exchangev1.CreateBatchRequest
			reason string
		}{
			{&exchangev1.CreateBatchRequest{RequirementId: dh.granted, MatterCode: matter1}, exchange.ReasonProvisionMethod},
			{&exchangev1.CreateBatchRequest{RequirementId: dh.revoked, MatterCode: matter1}, exchange.ReasonRequirementRevoked},
			{&exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1, Since: "abc"}, "CURSOR_INVALID"},
			{&exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1, Since: "-3"}, "CURSOR_INVALID"},
			{&exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1, Format: "xlsx"}, "BATCH_FORMAT_INVALID"},
			{&exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter99}, exchange.ReasonPurposeNotCovered},
			{&exchangev1.CreateBatchRequest{RequirementId: narrow, MatterCode: matter1}, exchange.ReasonScopeMismatch},
			{&exchangev1.CreateBatchRequest{RequirementId: "REQ-NONE", MatterCode: matter1}, "REQUIREMENT_NOT_FOUND"},
		} {
			_, err := yubei.FetchBatch(ctx, tc.req, hubKey, filepath.Join(dir, "refused"), nil)
			require.Error(t, err)
			require.Equal(t, tc.reason, sdk.Reason(err), err.Error())
			require.NoFileExists(t, filepath.Join(dir, "refused"))
		}
		// Another department cannot download 渝北's file.
		other := filepath.Join(dir, "other.jsonl")
		require.NoError(t, os.WriteFile(other+".part.manifest", kept, 0o600))
		_, err := dh.c(dh.sc).FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1}, hubKey, other, nil)
		require.ErrorContains(t, err, "BATCH_NOT_FOUND")
		require.NoFileExists(t, other)
	})
}

// BenchmarkBatchExport makes and fetches a snapshot batch file of batchBenchRecords records
// per iteration on a real hub (TLS, SQLite, audit log): the export (every record checked
// against its publish record, minimised, masked), the JSON Lines encoding, the signed
// manifest, the file and one audit record per subject in one audited write, then the
// download and the client's SM3 and Merkle root checks.
func BenchmarkBatchExport(b *testing.B) {
	const batchBenchRecords = 2000
	ctx := context.Background()
	dh := startDataHub(b, cst("2026-03-02 09:00"))
	rid := dh.batchRequirement(b, "REQ-YB-BATCH")
	for i := 0; i < batchBenchRecords; i += 500 {
		var subjects []string
		for j := i; j < i+500; j++ {
			body := fmt.Sprintf("5001121990%02d01%03d", 1+j/1000, j%1000) // distinct for j < 12000
			subjects = append(subjects, body+string(exchange.IDNumberCheckChar(body)))
		}
		dh.publish(b, "bench-"+strconv.Itoa(i), subjects...)
	}
	hubKey := &dh.h.PullKey.PublicKey
	out := filepath.Join(b.TempDir(), "bench.jsonl")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := dh.c(dh.yubei).FetchBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid, MatterCode: matter1}, hubKey, out, nil)
		if err != nil {
			b.Fatal(err)
		}
		if f.Manifest.GetRecordCount() != batchBenchRecords {
			b.Fatalf("%d records", f.Manifest.GetRecordCount())
		}
	}
	b.ReportMetric(float64(b.N*batchBenchRecords)/b.Elapsed().Seconds(), "records/s")
}
