package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func testTrustBundles(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	tr := s.Trust()
	at := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	cur, err := tr.CurrentBundle(ctx)
	require.NoError(t, err)
	require.Nil(t, cur, "no bundle yet")

	b1 := &store.TrustBundle{PEM: "pem-1", SM3: "aa", LoadedBy: "C1", LoadedAt: at, Note: "首次"}
	require.NoError(t, tr.PutBundle(ctx, b1, 0))
	require.Equal(t, int64(1), b1.Version)
	err = tr.PutBundle(ctx, &store.TrustBundle{PEM: "stale", LoadedAt: at}, 0)
	require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err), "a stale expected version is refused")

	// Two coordinators loading on top of version 1 at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tr.PutBundle(ctx, &store.TrustBundle{PEM: "race", SM3: "bb", LoadedBy: "C2", LoadedAt: at.Add(time.Minute)}, 1)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err), "%v", err)
		}
	}
	require.Equal(t, 1, ok)
	cur, err = tr.CurrentBundle(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), cur.Version)
	require.Equal(t, "race", cur.PEM)
	all, err := tr.ListBundles(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "首次", all[1].Note, "every version is kept")
	require.Equal(t, at, all[1].LoadedAt)
}

func testCRLSources(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	tr := s.Trust()
	at := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	src := &store.CRLSource{Location: "http://ca.example/crl", AddedBy: "C1", AddedAt: at}
	require.NoError(t, tr.AddCRLSource(ctx, src))
	require.Positive(t, src.ID)
	require.ErrorIs(t, tr.AddCRLSource(ctx, &store.CRLSource{Location: "http://ca.example/crl", AddedAt: at}), exchange.ErrAlreadyExists)

	require.NoError(t, tr.RecordCRLError(ctx, src.ID, at, "connection refused"))
	newer := &store.FetchedCRL{DER: []byte{1}, Issuer: "CA", ThisUpdate: at, NextUpdate: at.Add(24 * time.Hour), Revoked: 3, FetchedAt: at.Add(time.Second)}
	require.NoError(t, tr.RecordCRL(ctx, src.ID, newer))
	older := &store.FetchedCRL{DER: []byte{2}, Issuer: "CA", ThisUpdate: at.Add(-time.Hour), NextUpdate: at.Add(time.Hour), FetchedAt: at.Add(2 * time.Second)}
	err := tr.RecordCRL(ctx, src.ID, older)
	require.Equal(t, exchange.KindFailedPrecondition, exchange.KindOf(err), "a CRL never goes back in time")
	list, err := tr.ListCRLSources(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	got := list[0]
	require.Equal(t, []byte{1}, got.DER)
	require.Equal(t, 3, got.Revoked)
	require.Empty(t, got.LastError, "a successful fetch clears the error")
	require.Equal(t, at.Add(24*time.Hour), got.NextUpdate)

	require.NoError(t, tr.RemoveCRLSource(ctx, src.ID))
	require.ErrorIs(t, tr.RemoveCRLSource(ctx, src.ID), exchange.ErrNotFound)
	require.ErrorIs(t, tr.RecordCRL(ctx, src.ID, newer), exchange.ErrNotFound)
}

func testSealedDocuments(t *testing.T, s store.Store) {
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	c := s.Certs()
	at := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	d := &store.SealedDocument{SM3: "ab", Name: "a.ofd", Department: "D1", ESID: "5000", SignedAt: at, RegisteredAt: at.Add(time.Second), Signatures: 2, Size: 3, Content: []byte("ofd")}
	require.NoError(t, c.PutSealedDocument(ctx, d))
	require.ErrorIs(t, c.PutSealedDocument(ctx, d), exchange.ErrAlreadyExists)
	require.ErrorIs(t, c.PutSealedDocument(ctx, &store.SealedDocument{SM3: "cd"}), exchange.ErrInvalid)
	require.NoError(t, c.PutSealedDocument(ctx, &store.SealedDocument{SM3: "ef", Department: "D1", RegisteredAt: at.Add(time.Hour), Content: []byte("x"), ECertIdentifier: "ID"}))
	got, err := c.GetSealedDocument(ctx, "ab")
	require.NoError(t, err)
	require.Equal(t, d, got)
	_, err = c.GetSealedDocument(ctx, "zz")
	require.ErrorIs(t, err, exchange.ErrNotFound)
	list, err := c.ListSealedDocuments(ctx, "D1")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "ef", list[0].SM3, "newest first")
	require.Nil(t, list[1].Content, "lists carry no content")
}
