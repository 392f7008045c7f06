package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCalendarCommands runs the coordinator's yearly task of docs/ROLES.md with the
// binaries: publish a year (here the MADE-UP 2027 test file, not the real notice), list the
// years and publications, and read days; a non-coordinator is refused.
func TestCalendarCommands(t *testing.T) {
	gxhubBin, gxctlBin := buildBinaries(t)
	hub := startGxhub(t, gxhubBin, t.TempDir(), freePort(t))
	ids := hub.identities()
	coordinator, market := ids[0], ids[1]
	madeUp, err := filepath.Abs("../../exchange/calendar/testdata/2027-made-up.json")
	require.NoError(t, err)

	out, code := gxctl(t, gxctlBin, "--identity", market, "calendar", "years")
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?m)^2026\s+embedded\s`, out)
	require.Regexp(t, `(?m)^2027\s+provisional\s`, out)

	out, code = gxctl(t, gxctlBin, "--identity", market, "calendar", "publish", "--file", madeUp)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "ROLE_REQUIRED")

	out, code = gxctl(t, gxctlBin, "--identity", coordinator, "calendar", "publish", "--file", madeUp)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "published 2027 as calendar version 1")

	out, code = gxctl(t, gxctlBin, "--identity", coordinator, "calendar", "publish", "--file", madeUp)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "CALENDAR_YEAR_ANNOUNCED")
	require.Contains(t, out, "--replace")

	out, code = gxctl(t, gxctlBin, "--identity", market, "calendar", "years")
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?m)^2027\s+published\s+1\s+11500000000000019A\s`, out)
	out, code = gxctl(t, gxctlBin, "--identity", market, "calendar", "day", "2027-01-04")
	require.Equal(t, 0, code, out)
	require.Equal(t, "2027-01-04  holiday: 元旦\n", out)
	out, code = gxctl(t, gxctlBin, "--identity", market, "calendar", "day", "2028-10-03")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "holiday: 国庆节、中秋节  [provisional")
	out, code = gxctl(t, gxctlBin, "--identity", market, "calendar", "publications")
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?m)^1\s+2027\s+11500000000000019A\s.*SM2 \(body SM3 `, out)

	out, code = gxctl(t, gxctlBin, "--identity", market, "health")
	require.Equal(t, 0, code, out)
	require.True(t, strings.Contains(out, "\n         calendar: "), out)
}
