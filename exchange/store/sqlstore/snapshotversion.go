package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// snapshotTables are the tables whose rows the hub's request path serves from memory
// (server.Snapshots): departments and their certificate status (authentication), and
// requirements with their decisions and catalogue entries (pulls). Any change to them —
// through the store, another replica or a hand edit of the database — bumps
// snapshot_version in the changing transaction, so a request that reads the version first
// never uses a row older than the version it read.
var snapshotTables = []string{"departments", "certificate_status", "requirements", "requirement_decisions", "resources"}

func init() {
	registerStep(160, "snapshot version: bumped by every change to the tables the request path keeps in memory",
		func(ctx context.Context, s *Store, tx *sql.Tx) (bool, error) {
			stmts := []string{s.expand(`CREATE TABLE snapshot_version (
	id      INTEGER PRIMARY KEY,
	version {{int64}} NOT NULL
)`), `INSERT INTO snapshot_version (id, version) VALUES (1, 1)`}
			// Trigger bodies hold statements of their own: run as they are, not split at ";".
			for _, q := range append(stmts, snapshotTriggers(s.d.Name)...) {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return false, fmt.Errorf("%w in %q", err, firstLine(q))
				}
			}
			return true, nil
		})
}

// snapshotTriggers are the triggers that bump the version. On PostgreSQL they are
// deferred constraint triggers: the bump happens at commit, after every row lock the
// transaction takes, so the version row is the last lock of every writer (no deadlock
// with the rows themselves) and is held only while committing.
func snapshotTriggers(dialect string) []string {
	var out []string
	if dialect == "postgres" {
		out = append(out, `CREATE OR REPLACE FUNCTION gxhub_snapshot_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE snapshot_version SET version = version + 1 WHERE id = 1;
	RETURN NULL;
END
$$`)
		for _, t := range snapshotTables {
			out = append(out, fmt.Sprintf(`CREATE CONSTRAINT TRIGGER snapshot_bump_%s AFTER INSERT OR UPDATE OR DELETE ON %s
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gxhub_snapshot_bump()`, t, t))
		}
		return out
	}
	for _, t := range snapshotTables {
		for _, ev := range []string{"INSERT", "UPDATE", "DELETE"} {
			out = append(out, fmt.Sprintf(`CREATE TRIGGER snapshot_bump_%s_%s AFTER %s ON %s
BEGIN
	UPDATE snapshot_version SET version = version + 1 WHERE id = 1;
END`, t, ev, ev, t))
		}
	}
	return out
}

// SnapshotVersion returns the current snapshot version (server.SnapshotVersioner): it
// changes whenever a row of the snapshot tables changes, in the same transaction.
func (s *Store) SnapshotVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.queryRow(ctx, `SELECT version FROM snapshot_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, unavailable("read the snapshot version", err)
	}
	return v, nil
}
