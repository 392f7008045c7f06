package sqlstore

import (
	"context"
	"strings"

	"github.com/gxhub/gxhub/exchange"
)

// Reads of many rows by key in one statement, for batch pulls: one query instead of one
// per subject. The statements are not cached (their shape depends on the number of keys).

// inList writes "(pN, …)" for n keys after the first done arguments.
func (s *Store) inList(b *strings.Builder, done, n int) { s.tuple(b, done, n) }

// LatestMany returns the newest version of each subject of resource that has one
// (exchange.RecordBatchReader); subjects without a record are absent from the map.
func (r records) LatestMany(ctx context.Context, resource string, subjects []string) (map[string]*exchange.Record, error) {
	out := make(map[string]*exchange.Record, len(subjects))
	for len(subjects) > 0 {
		n := min(len(subjects), 500)
		var q strings.Builder
		q.WriteString(`SELECT ` + recordColumns + ` FROM records WHERE resource = ` + r.s.ph(1) + ` AND subject IN `)
		r.s.inList(&q, 1, n)
		args := make([]any, 0, n+1)
		args = append(args, resource)
		for _, s := range subjects[:n] {
			args = append(args, s)
		}
		// Every version of the subjects asked: a subject has few, and picking the newest
		// here keeps the statement simple on both dialects.
		rows, err := r.s.queryRaw(ctx, q.String(), args...)
		if err != nil {
			return nil, unavailable("read records", err)
		}
		for rows.Next() {
			rec, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return nil, unavailable("read records", err)
			}
			if cur, ok := out[rec.Subject]; !ok || rec.Version > cur.Version {
				out[rec.Subject] = rec
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, unavailable("read records", err)
		}
		subjects = subjects[n:]
	}
	return out, nil
}

// BriefMany returns the cases of numbers that exist, with their parties but without
// history and materials (store.Cases); numbers without a case are absent from the map.
func (q cases) BriefMany(ctx context.Context, numbers []string) (map[string]*exchange.Case, error) {
	out := make(map[string]*exchange.Case, len(numbers))
	for len(numbers) > 0 {
		n := min(len(numbers), 500)
		var b strings.Builder
		b.WriteString(`SELECT ` + caseColumns + ` FROM cases WHERE number IN `)
		q.s.inList(&b, 0, n)
		args := make([]any, n)
		for i, s := range numbers[:n] {
			args[i] = s
		}
		rows, err := q.s.queryRaw(ctx, b.String(), args...)
		if err != nil {
			return nil, unavailable("read cases", err)
		}
		for rows.Next() {
			c, err := scanCase(rows)
			if err != nil {
				rows.Close()
				return nil, unavailable("read cases", err)
			}
			out[c.Number] = c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, unavailable("read cases", err)
		}
		numbers = numbers[n:]
	}
	return out, nil
}
