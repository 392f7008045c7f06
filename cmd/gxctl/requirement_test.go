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
	require.Equal(t, "2027-01-13 00:00 (provisional)", deadline(r))
	var b bytes.Buffer
	require.NoError(t, printRequirements(&b, r))
	require.Contains(t, b.String(), "2027-01-13 00:00 (provisional)")
	r.DeadlineProvisional = false
	require.Equal(t, "2027-01-13 00:00", deadline(r))
	require.Equal(t, "-", deadline(&exchangev1.Requirement{}))
}
