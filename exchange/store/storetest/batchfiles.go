package storetest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

// testBatchFiles: a batch file is kept byte for byte (binary content included) and read
// back by range, as resumed downloads read it; an id is used once; an empty file is a file.
func testBatchFiles(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	bf := s.BatchFiles()
	content := bytes.Repeat([]byte("{\"subject\":\"甲\"}\n\x00\xff"), 5000)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := &store.BatchFile{ID: "b1", Department: "D", RequirementID: "R", Format: "jsonl", Manifest: []byte{1, 2}, Signature: []byte{3}, SM3: bytes.Repeat([]byte{7}, 32), CreatedAt: at, Content: content}
	require.NoError(t, bf.Create(ctx, f))
	require.ErrorIs(t, bf.Create(ctx, f), exchange.ErrAlreadyExists)
	require.NoError(t, bf.Create(ctx, &store.BatchFile{ID: "empty", Department: "D", RequirementID: "R", Format: "csv", Manifest: []byte{1}, Signature: []byte{1}, SM3: []byte{1}, CreatedAt: at}))

	got, err := bf.Get(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, int64(len(content)), got.Size)
	require.Equal(t, "D", got.Department)
	require.Equal(t, f.Manifest, got.Manifest)
	require.Equal(t, at, got.CreatedAt)
	require.Nil(t, got.Content)
	_, err = bf.Get(ctx, "none")
	require.ErrorIs(t, err, exchange.ErrNotFound)

	whole, err := io.ReadAll(io.NewSectionReader(readerAt{ctx, bf, "b1"}, 0, got.Size))
	require.NoError(t, err)
	require.Equal(t, content, whole)
	p := make([]byte, 100)
	n, err := bf.ReadAt(ctx, "b1", p, 12345)
	require.NoError(t, err)
	require.Equal(t, content[12345:12445], p[:n])
	n, err = bf.ReadAt(ctx, "b1", p, int64(len(content)-10))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, content[len(content)-10:], p[:n])
	e, err := bf.Get(ctx, "empty")
	require.NoError(t, err)
	require.Zero(t, e.Size)
}

type readerAt struct {
	ctx context.Context
	bf  store.BatchFiles
	id  string
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.bf.ReadAt(r.ctx, r.id, p, off) }
