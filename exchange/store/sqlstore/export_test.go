package sqlstore

import "context"

// ConvertStepForTest runs one step of the conversion of migration 166 in its own
// transaction, as Open does, and reports whether it was the last.
func ConvertStepForTest(ctx context.Context, s *Store) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if done, err = convertToTiles(ctx, s, tx); err != nil {
		return false, err
	}
	return done, tx.Commit()
}
