package store

import (
	"context"
	"time"
)

// BatchFile is a batch file the hub made for a consumer (provision method batch_file),
// kept so that every download of it — resumed or repeated — gets the very bytes its signed
// manifest describes.
type BatchFile struct {
	ID            string
	Department    string // the consumer it was made for: the only one who may download it
	Operator      string
	RequirementID string
	Format        string
	// Manifest is the signed manifest payload and Signature the hub's signature over it.
	Manifest  []byte
	Signature []byte
	Size      int64
	SM3       []byte
	CreatedAt time.Time
	// Content is the file (set on Create; Get leaves it nil: read it with ReadAt).
	Content []byte
}

// BatchFiles keeps batch files.
type BatchFiles interface {
	// Create stores a new batch file with its content (ID unique).
	Create(ctx context.Context, f *BatchFile) error
	// Get returns a batch file without its content, or exchange.ErrNotFound.
	Get(ctx context.Context, id string) (*BatchFile, error)
	// ReadAt reads len(p) bytes of the content at off (io.ReaderAt: fewer only at the end,
	// with io.EOF).
	ReadAt(ctx context.Context, id string, p []byte, off int64) (int, error)
}
