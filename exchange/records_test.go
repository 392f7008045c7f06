package exchange_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
)

func TestValidateIDNumber(t *testing.T) {
	tests := map[string]struct {
		id string
		ok bool
	}{
		"ok/GB 11643 example with X": {"11010519491231002X", true},
		"ok/GB 11643 example":        {"440524188001010014", true},
		"fail/wrong check character": {"110105194912310021", false},
		"fail/lower-case x":          {"11010519491231002x", false}, // NormalizeSubject upper-cases first
		"fail/31 February":           {"110105194902310027", false},
		"fail/15-digit old number":   {"110105491231002", false},
		"fail/letters":               {"11010519491231A02X", false},
		"fail/empty":                 {"", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := exchange.ValidateIDNumber(tc.id)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, exchange.ErrInvalid)
		})
	}
	require.NoError(t, exchange.ValidateIDNumber(exchange.NormalizeSubject(" 11010519491231002x ")))
	// Every single-digit change of a valid number is caught by the check character.
	valid := "440524188001010014"
	for i := 0; i < 17; i++ {
		b := []byte(valid)
		b[i] = '0' + (b[i]-'0'+1)%10
		if b[0] == '0' {
			continue
		}
		require.Error(t, exchange.ValidateIDNumber(string(b)), "digit %d changed: %s", i, b)
	}
}

func TestValidateBatch(t *testing.T) {
	res := &exchange.Resource{Code: "R-1", Provider: "P", SubjectKind: exchange.SubjectIDNumber,
		Items: []exchange.DataItem{{Name: "name"}, {Name: "address"}}}
	up := func(s string, f map[string]string) exchange.Change {
		return exchange.Change{Op: exchange.OpUpsert, Subject: s, Fields: f}
	}
	const a, b = "11010519491231002X", "440524188001010014"
	tests := map[string]struct {
		b      exchange.Batch
		reason string
	}{
		"ok/upsert and delete":   {exchange.Batch{Provider: "P", Changes: []exchange.Change{up(a, map[string]string{"name": "张三"}), {Op: exchange.OpDelete, Subject: b}}}, ""},
		"fail/not the provider":  {exchange.Batch{Provider: "Q", Changes: []exchange.Change{up(a, map[string]string{"name": "x"})}}, "NOT_RESOURCE_PROVIDER"},
		"fail/empty":             {exchange.Batch{Provider: "P"}, "BATCH_EMPTY"},
		"fail/bad subject":       {exchange.Batch{Provider: "P", Changes: []exchange.Change{up("123", map[string]string{"name": "x"})}}, "SUBJECT_INVALID"},
		"fail/subject twice":     {exchange.Batch{Provider: "P", Changes: []exchange.Change{up(a, map[string]string{"name": "x"}), {Op: exchange.OpDelete, Subject: " 11010519491231002x"}}}, "SUBJECT_DUPLICATE"},
		"fail/uncatalogued item": {exchange.Batch{Provider: "P", Changes: []exchange.Change{up(a, map[string]string{"salary": "1"})}}, "DATA_ITEM_UNKNOWN"},
		"fail/upsert no fields":  {exchange.Batch{Provider: "P", Changes: []exchange.Change{up(a, nil)}}, "FIELDS_MISSING"},
		"fail/delete with data":  {exchange.Batch{Provider: "P", Changes: []exchange.Change{{Op: exchange.OpDelete, Subject: a, Fields: map[string]string{"name": "x"}}}}, "DELETE_WITH_FIELDS"},
		"fail/unknown op":        {exchange.Batch{Provider: "P", Changes: []exchange.Change{{Op: "merge", Subject: a}}}, "CHANGE_OP_INVALID"},
		"fail/not UTF-8":         {exchange.Batch{Provider: "P", Changes: []exchange.Change{up(a, map[string]string{"name": "\xff"})}}, "FIELD_NOT_UTF8"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := exchange.ValidateBatch(&tc.b, res)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			var e *exchange.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.reason, e.Reason, "%v", err)
		})
	}
	c, err := exchange.USCCCheckChar("91500000MA5U00000")
	require.NoError(t, err)
	uscc := "91500000MA5U00000" + string(c)
	for kind, tc := range map[exchange.SubjectKind]struct{ good, bad string }{
		exchange.SubjectUSCC:        {uscc, "91500000MA5U00000" + string("0123456789"[(int(c)+1)%10])},
		exchange.SubjectCertificate: {"CQ-2026-000123", "x"},
	} {
		t.Run(string(kind), func(t *testing.T) {
			require.NoError(t, exchange.ValidateSubject(kind, tc.good))
			require.Error(t, exchange.ValidateSubject(kind, tc.bad))
		})
	}
}

func TestSameBatch(t *testing.T) {
	at := time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC)
	stored := &exchange.Batch{ID: "b1", Resource: "R", Provider: "P", At: at}
	recs := []*exchange.Record{
		{Resource: "R", Subject: "S1", Version: 3, Fields: map[string]string{"name": "张三"}, Batch: "b1"},
		{Resource: "R", Subject: "S2", Version: 1, Deleted: true, Batch: "b1"},
	}
	same := func() *exchange.Batch {
		return &exchange.Batch{ID: "b1", Resource: "R", Provider: "P", Changes: []exchange.Change{
			{Op: exchange.OpDelete, Subject: "S2"},
			{Op: exchange.OpUpsert, Subject: "S1", Fields: map[string]string{"name": "张三"}},
		}}
	}
	require.True(t, exchange.SameBatch(stored, recs, same()), "same changes, any order")
	for name, mutate := range map[string]func(b *exchange.Batch){
		"another provider":    func(b *exchange.Batch) { b.Provider = "Q" },
		"another resource":    func(b *exchange.Batch) { b.Resource = "R2" },
		"another field value": func(b *exchange.Batch) { b.Changes[1].Fields = map[string]string{"name": "李四"} },
		"an extra field":      func(b *exchange.Batch) { b.Changes[1].Fields = map[string]string{"name": "张三", "addr": "x"} },
		"upsert for delete": func(b *exchange.Batch) {
			b.Changes[0] = exchange.Change{Op: exchange.OpUpsert, Subject: "S2", Fields: map[string]string{"name": "x"}}
		},
		"one change fewer": func(b *exchange.Batch) { b.Changes = b.Changes[:1] },
		"another subject":  func(b *exchange.Batch) { b.Changes[0].Subject = "S3" },
	} {
		b := same()
		mutate(b)
		require.False(t, exchange.SameBatch(stored, recs, b), name)
	}
	require.False(t, exchange.SameBatch(nil, recs, same()), "no stored batch")
}
