package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

func TestReadChanges(t *testing.T) {
	tests := map[string]struct {
		file string
		n    int
		ok   bool
	}{
		"ok/upserts, a delete, comments and blank lines": {"# people\n{\"subject\":\"500112199001010011\",\"fields\":{\"name\":\"张三\"}}\n\n{\"op\":\"delete\",\"subject\":\"500112199001010029\"}\n", 2, true},
		"fail/not JSON":   {"{\"subject\":", 0, false},
		"fail/unknown op": {"{\"op\":\"merge\",\"subject\":\"x\"}\n", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.jsonl")
			require.NoError(t, os.WriteFile(p, []byte(tc.file), 0o600))
			cs, lines, err := readChanges(p)
			if !tc.ok {
				require.Error(t, err)
				require.Contains(t, err.Error(), "line 1")
				return
			}
			require.NoError(t, err)
			require.Len(t, cs, tc.n)
			require.Equal(t, []int{2, 4}, lines, "file lines of the changes (comments and blank lines counted)")
			require.Equal(t, exchangev1.ChangeOp_CHANGE_OP_UPSERT, cs[0].GetOp())
			require.Equal(t, "张三", cs[0].GetFields()["name"])
			require.Equal(t, exchangev1.ChangeOp_CHANGE_OP_DELETE, cs[1].GetOp())
		})
	}
}

func TestParseRule(t *testing.T) {
	r, err := parseRule(" g, clerk-9 , operator, 11500000MB0000000X")
	require.NoError(t, err)
	require.Equal(t, "g", r.GetPtype())
	require.Equal(t, []string{"clerk-9", "operator", "11500000MB0000000X"}, r.GetFields())
	require.Equal(t, "g, clerk-9, operator, 11500000MB0000000X", ruleString(r))
	_, err = parseRule("x, a")
	require.Error(t, err)
	_, err = parseRule("p")
	require.Error(t, err)
	st, err := objectionState("corrected")
	require.NoError(t, err)
	require.Equal(t, exchangev1.ObjectionState_OBJECTION_STATE_CORRECTED, st)
	_, err = objectionState("maybe")
	require.Error(t, err)
}
