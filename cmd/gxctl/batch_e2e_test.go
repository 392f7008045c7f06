package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// TestBatchFetchCLI runs gxctl batch fetch against a real `gxhub serve --demo`: a snapshot
// is written once verified; an interrupted fetch (its kept manifest and partial file) is
// resumed to the same bytes; a partial file with one byte flipped is caught — the command
// fails naming the SM3 check and FILE is not written.
func TestBatchFetchCLI(t *testing.T) {
	ctx := context.Background()
	gxhubBin, gxctlBin := buildBinaries(t)
	hub := startGxhub(t, gxhubBin, t.TempDir(), freePort(t))
	ids := hub.identities()
	require.GreaterOrEqual(t, len(ids), 8, "demo identities: %v", hub.out)
	yubei := ids[7]
	run := func(args ...string) (string, int) {
		t.Helper()
		return gxctl(t, gxctlBin, append([]string{"--identity", yubei}, args...)...)
	}
	out, code := run("--json", "requirement", "file", "--resource", "500000-SCJG-0001", "--item", "name",
		"--matter", "500112-YB-0001", "--provision", "batch_file", "--duty", "《优化营商环境条例》")
	require.Equal(t, 0, code, out)
	var rq map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rq), out)
	require.Equal(t, "granted", rq["state"])
	rid := rq["id"].(string)
	dir := t.TempDir()

	snap := filepath.Join(dir, "snapshot.jsonl")
	out, code = run("batch", "fetch", "--requirement", rid, "--out", snap)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "manifest signature verified")
	require.Contains(t, out, "next cursor: ")
	full, err := os.ReadFile(snap)
	require.NoError(t, err)
	require.Greater(t, len(full), 100)

	// What an interrupted fetch leaves: the signed manifest and part of the file.
	id, err := identity.Load(yubei, nil)
	require.NoError(t, err)
	c, err := sdk.Dial(ctx, id)
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.Pulls.CreateBatch(ctx, &exchangev1.CreateBatchRequest{RequirementId: rid})
	require.NoError(t, err)
	require.Equal(t, int64(len(full)), resp.GetManifest().GetFileSize(), "the same records: the same file")
	kept, err := proto.Marshal(resp)
	require.NoError(t, err)
	interrupted := func(out string, part []byte) {
		require.NoError(t, os.WriteFile(out+".part.manifest", kept, 0o600))
		require.NoError(t, os.WriteFile(out+".part", part, 0o600))
	}

	flipped := filepath.Join(dir, "flipped.jsonl")
	part := slices.Clone(full[:len(full)/2])
	part[7] ^= 0x01
	interrupted(flipped, part)
	out, code = run("batch", "fetch", "--requirement", rid, "--out", flipped)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "SM3")
	require.NoFileExists(t, flipped, "nothing is written when a check fails")
	require.NoFileExists(t, flipped+".part")

	resumed := filepath.Join(dir, "resumed.jsonl")
	interrupted(resumed, full[:len(full)/2])
	out, code = run("batch", "fetch", "--requirement", rid, "--out", resumed)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "resumed after")
	require.Contains(t, out, resp.GetManifest().GetBatchId())
	again, err := os.ReadFile(resumed)
	require.NoError(t, err)
	require.Equal(t, full, again)

	out, code = run("batch", "fetch", "--requirement", rid, "--since", "x1", "--out", filepath.Join(dir, "bad"))
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "cursor")
}
