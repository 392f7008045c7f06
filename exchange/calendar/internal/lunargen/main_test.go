package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTableMatchesLibrary fails when the committed lunar_table.go is not what the library
// computes (someone edited it by hand, or the library was upgraded with other dates).
func TestTableMatchesLibrary(t *testing.T) {
	want, err := Generate()
	require.NoError(t, err)
	got, err := os.ReadFile("../../lunar_table.go")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "exchange/calendar/lunar_table.go is stale or edited: run go generate ./exchange/calendar/")
}

// TestLibraryKnownDates pins dates published in the State Council notices and in the
// 2027 almanac, so that a library upgrade that changed them is noticed here first.
func TestLibraryKnownDates(t *testing.T) {
	for _, tc := range []Festivals{
		{2024, 210, 404, 610, 917},
		{2025, 129, 404, 531, 1006},
		{2026, 217, 405, 619, 925},
		{2027, 206, 405, 609, 915},
		{2028, 126, 404, 528, 1003},
	} {
		got, err := Compute(tc.Year)
		require.NoError(t, err)
		require.Equal(t, tc, got)
	}
}
