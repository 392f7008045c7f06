package main_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// gxctlIn runs gxctl with stdin and returns stdout, stderr and the exit code.
func gxctlIn(t *testing.T, bin, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errOut.String(), code
}

// TestAuditTraceCLI looks up a subject's usage twice (each lookup is an audit record about
// that subject), then traces the subject as CSV, JSON and a table, and checks refusals.
func TestAuditTraceCLI(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	hub := startGxhub(t, gxhubBin, t.TempDir(), freePort(t))
	ids := hub.identities()
	require.GreaterOrEqual(t, len(ids), 2, "demo identities: %v", hub.out)
	coordinator, market := ids[0], ids[1] // coordinator+auditor; provider/consumer/issuer
	const subject = "11010519491231002X"

	for _, ref := range []string{"窗口办件 W-1", "窗口办件 W-2"} {
		out, errOut, code := gxctlIn(t, gxctlBin, subject+"\n", "--identity", coordinator, "audit", "usage", "--subject", "-", "--holder-ref", ref)
		require.Zero(t, code, "%s%s", out, errOut)
		require.Contains(t, out, "this lookup is audit record")
	}

	out, errOut, code := gxctlIn(t, gxctlBin, strings.ToLower(subject)+"\n", "--identity", coordinator, "audit", "trace", "--subject", "-", "--format", "csv")
	require.Zero(t, code, "%s%s", out, errOut)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "header and the two lookups: %s", out)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, r := range rows[1:] {
		require.Equal(t, "subject.usage", r[col["kind"]])
		require.Len(t, r[col["subject_key"]], 64)
		require.Equal(t, rows[1][col["subject_key"]], r[col["subject_key"]])
		require.Contains(t, r[col["reason"]], []string{"W-1", "W-2"}[i])
		require.NotContains(t, strings.Join(r, ","), subject, "the plain subject is not in the export")
	}
	require.Contains(t, errOut, "traced 2 records")

	out, errOut, code = gxctlIn(t, gxctlBin, "", "--identity", coordinator, "audit", "trace", "--kind", "subject.usage", "--format", "json", "--page-size", "1", "-q")
	require.Zero(t, code, "%s%s", out, errOut)
	var recs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &recs), out)
	require.Len(t, recs, 2)
	require.Empty(t, errOut)

	out, _, code = gxctlIn(t, gxctlBin, "", "--identity", coordinator, "audit", "trace", "--subject", "500101199001011234")
	require.Zero(t, code, out)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "only the header for an unknown subject: %q", out)

	out, errOut, code = gxctlIn(t, gxctlBin, "", "--identity", market, "audit", "trace", "--kind", "pull")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut+out, "ROLE_REQUIRED")

	out, errOut, code = gxctlIn(t, gxctlBin, "", "--identity", coordinator, "audit", "anomalies")
	require.Zero(t, code, "%s%s", out, errOut)
	require.Contains(t, out, "rule  PULL_WITHOUT_CASE")
	require.Contains(t, out, "0 anomalies")

	_, errOut, code = gxctlIn(t, gxctlBin, "", "--identity", coordinator, "audit", "trace", "--format", "xml")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "use table, csv or json")
}
