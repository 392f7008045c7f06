package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// TestDeadlineShowsProvisional: a deadline computed before its year's calendar was
// published is marked in the table and the detail view.
func TestDeadlineShowsProvisional(t *testing.T) {
	at := timestamppb.New(time.Date(2027, 1, 13, 0, 0, 0, 0, cst))
	r := &exchangev1.Requirement{Id: "RQ-1", State: "awaiting_provider", Deadline: at, DeadlineProvisional: true}
	// Midnight in Beijing is the end of the day before.
	require.Equal(t, "end of 2027-01-12 (Tue) (provisional)", deadline(r))
	var b bytes.Buffer
	require.NoError(t, printRequirements(&b, r))
	require.Contains(t, b.String(), "end of 2027-01-12 (Tue) (provisional)")
	r.DeadlineProvisional = false
	require.Equal(t, "end of 2027-01-12 (Tue)", deadline(r))
	require.Equal(t, "-", deadline(&exchangev1.Requirement{}))
	// Any other instant is a time, in the one format (local or --utc).
	global.utc = true
	defer func() { global.utc = false }()
	r.Deadline = timestamppb.New(time.Date(2027, 1, 13, 17, 30, 0, 0, cst))
	require.Equal(t, "2027-01-13 09:30:00 +00:00", deadline(r))
}
