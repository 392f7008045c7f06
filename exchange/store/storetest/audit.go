package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/ledgertest"
	ledgerlog "github.com/gxhub/gxhub/ledger/log"
)

// AuditStore is what the audit index suite needs: the log's storage and its index.
type AuditStore interface {
	LedgerStorage(logID string) ledger.Storage
	AuditIndex(logID string) store.AuditIndex
}

// RunAuditIndex runs the audit index conformance tests (C4). open returns a fresh store
// (the caller closes it in t.Cleanup); forget deletes every index row of logID, leaving the
// leaves, as a database from before the index existed would be.
func RunAuditIndex(t *testing.T, open func(t *testing.T) AuditStore, forget func(t *testing.T, s AuditStore, logID string)) {
	t.Run("SearchFilters", func(t *testing.T) { testAuditSearch(t, open(t)) })
	t.Run("FailedAppendLeavesNoRows", func(t *testing.T) { testAuditAtomic(t, open(t)) })
	t.Run("Backfill", func(t *testing.T) { testAuditBackfill(t, open(t), forget) })
	t.Run("HourlyCounts", func(t *testing.T) { testAuditHourly(t, open(t)) })
	t.Run("CaseSubjects", func(t *testing.T) { testAuditCaseSubjects(t, open(t)) })
	t.Run("LogsAreSeparate", func(t *testing.T) { testAuditLogsSeparate(t, open(t)) })
}

const auditLogID = "test.gxhub/audit"

// auditRecords returns n varied records: subjects from a small set, cases missing on every
// fifth, three kinds, times one minute apart.
func auditRecords(n int) []ledger.Record {
	base := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	out := make([]ledger.Record, n)
	for i := range out {
		r := ledgertest.Record(i)
		r.Time = base.Add(time.Duration(i) * time.Minute)
		r.Subject = ledger.SubjectKey{}
		r.Subject[0], r.Subject[31] = byte(i%4), 0xAA // four subjects
		if i%5 == 0 {
			r.Case = ""
		}
		switch i % 6 {
		case 1:
			r.Kind, r.Outcome, r.Reason = ledger.KindRequirementDecision, ledger.OutcomeOK, "revoke → revoked"
		case 4:
			r.Kind, r.Outcome, r.Reason = ledger.KindPull, ledger.OutcomeDenied, "REQUIREMENT_REVOKED: the requirement was revoked"
		}
		out[i] = r
	}
	return out
}

// AppendAuditRecords appends n test audit records through a group-committed log over st,
// whose log id must be AuditLogID.
func AppendAuditRecords(t testing.TB, st ledger.Storage, n int) {
	appendConcurrently(t, newAuditLog(t, st), auditRecords(n))
}

// ForgetAuditIndexSQL deletes the index rows and the watermark of logID from a SQL store's
// database, as in a database from before the audit index existed.
func ForgetAuditIndexSQL(t testing.TB, db *sql.DB, logID string) {
	t.Helper()
	for _, q := range []string{`DELETE FROM audit_index WHERE log_id = $1`, `DELETE FROM audit_index_state WHERE log_id = $1`} {
		if _, err := db.ExecContext(context.Background(), q, logID); err != nil {
			t.Fatal(err)
		}
	}
}

// AuditLogID is the log id of the audit conformance tests.
const AuditLogID = auditLogID

func newAuditLog(t testing.TB, st ledger.Storage) *ledgerlog.Log {
	t.Helper()
	cfg := ledgerlog.DefaultConfig(auditLogID)
	l, err := ledgerlog.New(context.Background(), st, ledgertest.Signer(t, ledgertest.LogKeyName), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close(context.Background())) })
	return l
}

// appendConcurrently appends recs through the group-committed log and returns the index of
// each record.
func appendConcurrently(t testing.TB, l *ledgerlog.Log, recs []ledger.Record) []uint64 {
	t.Helper()
	idx := make([]uint64, len(recs))
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, r := range recs {
		wg.Go(func() { idx[i], errs[i] = l.Append(context.Background(), r) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return idx
}

func matches(q store.AuditQuery, r ledger.Record) bool {
	return (q.Subject.IsZero() || q.Subject == r.Subject) &&
		(q.Department == "" || q.Department == r.Department) &&
		(q.Resource == "" || q.Resource == r.Resource) &&
		(q.Case == "" || q.Case == r.Case) &&
		(q.Matter == "" || q.Matter == r.Matter) &&
		(q.Kind == "" || q.Kind == r.Kind) &&
		(q.Outcome == "" || q.Outcome == r.Outcome) &&
		(q.ReasonCode == "" || q.ReasonCode == store.ReasonCode(r.Reason)) &&
		(!q.WithoutCase || r.Case == "") &&
		(q.From.IsZero() || !r.Time.Before(q.From)) &&
		(q.To.IsZero() || r.Time.Before(q.To))
}

// searchAll pages through every match, page by page.
func searchAll(t *testing.T, ix store.AuditIndex, q store.AuditQuery, page int) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	start := uint64(0)
	for {
		got, err := ix.Search(context.Background(), q, start, page)
		require.NoError(t, err)
		require.LessOrEqual(t, len(got), page)
		out = append(out, got...)
		if len(got) < page {
			return out
		}
		start = got[len(got)-1].Index + 1
	}
}

func testAuditSearch(t *testing.T, s AuditStore) {
	st := s.LedgerStorage(auditLogID)
	ix := s.AuditIndex(auditLogID)
	l := newAuditLog(t, st)
	recs := auditRecords(60)
	idx := appendConcurrently(t, l, recs)
	byIndex := map[uint64]ledger.Record{}
	for i, r := range recs {
		byIndex[idx[i]] = r
	}
	n, err := ix.Indexed(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(len(recs)), n, "every appended leaf is indexed in its append transaction")

	subj := recs[2].Subject
	base := recs[0].Time
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
	}{
		{"all", store.AuditQuery{}},
		{"subject", store.AuditQuery{Subject: subj}},
		{"department", store.AuditQuery{Department: recs[3].Department}},
		{"resource", store.AuditQuery{Resource: recs[4].Resource}},
		{"case", store.AuditQuery{Case: recs[7].Case}},
		{"matter", store.AuditQuery{Matter: "M-001"}},
		{"kind", store.AuditQuery{Kind: ledger.KindRequirementDecision}},
		{"outcome", store.AuditQuery{Outcome: ledger.OutcomeDenied}},
		{"reason code", store.AuditQuery{ReasonCode: "REQUIREMENT_REVOKED"}},
		{"without case", store.AuditQuery{Kind: ledger.KindPull, WithoutCase: true}},
		{"time range", store.AuditQuery{From: base.Add(10 * time.Minute), To: base.Add(20 * time.Minute)}},
		{"subject and department", store.AuditQuery{Subject: subj, Department: recs[2].Department}},
		{"nothing", store.AuditQuery{Department: "no such department"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []uint64
			for i := range uint64(len(recs)) {
				if matches(tc.q, byIndex[i]) {
					want = append(want, i)
				}
			}
			for _, page := range []int{1, 7, 1000} {
				got := searchAll(t, ix, tc.q, page)
				var gotIdx []uint64
				for _, e := range got {
					require.False(t, e.Undecodable)
					require.Equal(t, byIndex[e.Index].Case, e.Record.Case)
					require.True(t, e.Record.Time.Equal(byIndex[e.Index].Time))
					// The leaf is the log's leaf, so it proves with the log.
					stored, err := st.ReadLeaves(context.Background(), e.Index, 1)
					require.NoError(t, err)
					require.Equal(t, stored[0], e.Leaf)
					gotIdx = append(gotIdx, e.Index)
				}
				require.Equal(t, want, gotIdx, "page size %d", page)
			}
		})
	}
	_, err = ix.Search(context.Background(), store.AuditQuery{}, 0, 0)
	require.ErrorIs(t, err, ledger.ErrInvalid)
}

func testAuditAtomic(t *testing.T, s AuditStore) {
	ctx := context.Background()
	st := s.LedgerStorage(auditLogID)
	ix := s.AuditIndex(auditLogID)
	l := newAuditLog(t, st)
	appendConcurrently(t, l, auditRecords(4))

	// An append whose node write conflicts fails after its leaves and index rows were
	// written inside the transaction: nothing of it may remain.
	leaf, err := auditRecords(5)[4].MarshalBinary()
	require.NoError(t, err)
	bad := []ledger.Node{{ID: ledger.NodeID{Level: 0, Index: 0}, Hash: make([]byte, 32)}}
	err = st.AppendLeaves(ctx, 4, [][]byte{leaf}, bad)
	require.ErrorIs(t, err, ledger.ErrConflict)
	size, err := st.Size(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(4), size)
	n, err := ix.Indexed(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(4), n, "a failed append leaves no index rows")
	got, err := ix.Search(ctx, store.AuditQuery{}, 4, 10)
	require.NoError(t, err)
	require.Empty(t, got)

	// A conflicting start fails before anything is written.
	err = st.AppendLeaves(ctx, 2, [][]byte{leaf}, nil)
	require.ErrorIs(t, err, ledger.ErrConflict)
	n, err = ix.Indexed(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(4), n)
}

func testAuditBackfill(t *testing.T, s AuditStore, forget func(t *testing.T, s AuditStore, logID string)) {
	ctx := context.Background()
	st := s.LedgerStorage(auditLogID)
	ix := s.AuditIndex(auditLogID)
	l := newAuditLog(t, st)
	recs := auditRecords(25)
	appendConcurrently(t, l, recs)
	n, err := ix.Indexed(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(len(recs)), n)
	forget(t, s, auditLogID)

	// The next read indexes the log again before it answers.
	subj := recs[1].Subject
	var want int
	for _, r := range recs {
		if r.Subject == subj {
			want++
		}
	}
	got, err := ix.Search(ctx, store.AuditQuery{Subject: subj}, 0, 100)
	require.NoError(t, err)
	require.Len(t, got, want)
	n, err = ix.Indexed(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(len(recs)), n)

	// Idempotent, and appends after a backfill index as usual.
	done, err := ix.Backfill(ctx)
	require.NoError(t, err)
	require.Zero(t, done)
	appendConcurrently(t, l, auditRecords(3))
	n, err = ix.Indexed(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(len(recs)+3), n)
}

func testAuditHourly(t *testing.T, s AuditStore) {
	ctx := context.Background()
	ix := s.AuditIndex(auditLogID)
	l := newAuditLog(t, s.LedgerStorage(auditLogID))
	recs := auditRecords(150) // 2.5 hours, one a minute
	appendConcurrently(t, l, recs)
	from := recs[0].Time
	to := from.Add(3 * time.Hour)
	got, err := ix.HourlyCounts(ctx, ledger.KindPull, from, to)
	require.NoError(t, err)
	want := map[string]int64{}
	for _, r := range recs {
		if r.Kind == ledger.KindPull {
			want[fmt.Sprintf("%s@%s", r.Department, r.Time.Truncate(time.Hour).Format(time.RFC3339))]++
		}
	}
	gotMap := map[string]int64{}
	for _, c := range got {
		require.Equal(t, time.UTC, c.Hour.Location())
		gotMap[fmt.Sprintf("%s@%s", c.Department, c.Hour.Format(time.RFC3339))] = c.Count
	}
	require.Equal(t, want, gotMap)
	_, err = ix.HourlyCounts(ctx, ledger.KindPull, to, from)
	require.ErrorIs(t, err, ledger.ErrInvalid)
}

func testAuditCaseSubjects(t *testing.T, s AuditStore) {
	ctx := context.Background()
	ix := s.AuditIndex(auditLogID)
	l := newAuditLog(t, s.LedgerStorage(auditLogID))
	recs := auditRecords(150)
	for i := range recs {
		if recs[i].Case != "" {
			recs[i].Case = fmt.Sprintf("CASE-%d", i%9) // cases pulled several times, for several subjects
		}
	}
	appendConcurrently(t, l, recs)
	from, to := recs[0].Time, recs[len(recs)-1].Time.Add(time.Minute)
	want := map[string]map[ledger.SubjectKey]int{} // case@department → subject → records
	for _, r := range recs {
		if r.Kind != ledger.KindPull || r.Case == "" || r.Subject.IsZero() {
			continue
		}
		k := r.Case + "@" + r.Department
		if want[k] == nil {
			want[k] = map[ledger.SubjectKey]int{}
		}
		want[k][r.Subject]++
	}
	for _, min := range []int{1, 2, 3} {
		got, err := ix.CaseSubjects(ctx, ledger.KindPull, from, to, min)
		require.NoError(t, err)
		gotMap := map[string][2]int64{}
		for _, c := range got {
			gotMap[c.Case+"@"+c.Department] = [2]int64{c.Subjects, c.Records}
		}
		wantMap := map[string][2]int64{}
		for k, subjects := range want {
			if len(subjects) >= min {
				var n int
				for _, c := range subjects {
					n += c
				}
				wantMap[k] = [2]int64{int64(len(subjects)), int64(n)}
			}
		}
		require.Equal(t, wantMap, gotMap, "at least %d subjects", min)
		if min <= 2 {
			require.NotEmpty(t, gotMap, "the test records have cases pulling two or more subjects")
		}
	}
	_, err := ix.CaseSubjects(ctx, ledger.KindPull, to, from, 1)
	require.ErrorIs(t, err, ledger.ErrInvalid)
}

func testAuditLogsSeparate(t *testing.T, s AuditStore) {
	ctx := context.Background()
	a := newAuditLog(t, s.LedgerStorage(auditLogID))
	appendConcurrently(t, a, auditRecords(3))
	other := s.AuditIndex("other.gxhub/audit")
	got, err := other.Search(ctx, store.AuditQuery{}, 0, 10)
	require.NoError(t, err)
	require.Empty(t, got)
	n, err := other.Indexed(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}
