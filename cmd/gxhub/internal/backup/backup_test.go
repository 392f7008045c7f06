package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/backup"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/hub"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store/postgres/pgtest"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
	"github.com/gxhub/gxhub/sdk"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
	"github.com/gxhub/gxhub/sdk/identity"
)

// running is a hub serving on a loopback port.
type running struct {
	h    *hub.Hub
	url  string
	dirs []string
	stop func()
}

func serve(t *testing.T, cfg config.Config) *running {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, cfg, log)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &running{h: h, url: h.URL(ln.Addr())}
	r.dirs, err = h.SeedDemo(ctx, r.url)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, h.Close())
		})
	}
	t.Cleanup(r.stop)
	return r
}

func hubConfig(t *testing.T, dataDir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Listen = "127.0.0.1:0"
	cfg.Demo = true
	cfg.AuditHeadInterval = 100 * time.Millisecond
	return cfg
}

// ack is an acknowledged publish: its batch and the index of its audit record.
type ack struct {
	batch string
	audit uint64
}

// load publishes one-record batches of 营业执照信息 from several writers until stop is
// closed, recording every acknowledged one.
func load(t *testing.T, r *running, writers int, stop <-chan struct{}) (acks func() []ack, wait func()) {
	t.Helper()
	id, err := identity.Load(r.dirs[1], nil) // 重庆市市场监督管理局, provider of 500000-SCJG-0001
	require.NoError(t, err)
	var mu sync.Mutex
	var got []ack
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range writers {
		c, err := sdk.Dial(context.Background(), id, sdk.WithURL(r.url))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				body := fmt.Sprintf("91500000MA6%06d", n)
				ch, err := exchange.USCCCheckChar(body)
				if err != nil {
					t.Error(err)
					return
				}
				subject := body + string(ch)
				batch := fmt.Sprintf("load-%d-%d", w, n)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				resp, err := c.Records.Publish(ctx, &exchangev1.PublishRequest{Resource: "500000-SCJG-0001", BatchId: batch,
					Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: subject,
						Fields: map[string]string{"uscc": subject, "name": "负载测试公司" + batch}}}})
				cancel()
				if err != nil {
					t.Errorf("publish %s: %v", batch, err)
					return
				}
				mu.Lock()
				got = append(got, ack{batch, resp.GetAuditReference()})
				mu.Unlock()
			}
		}()
	}
	return func() []ack {
			mu.Lock()
			defer mu.Unlock()
			return append([]ack(nil), got...)
		}, func() {
			wg.Wait()
		}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out waiting for %s", what)
		time.Sleep(20 * time.Millisecond)
	}
}

// backupUnderLoad runs a hub with cfg under write load, backs it up while the writers
// go on, restores the archive with restoreCfg, starts a hub on the restored state and
// checks every acknowledged write the backup's head covers.
func backupUnderLoad(t *testing.T, cfg, restoreCfg config.Config) {
	ctx := context.Background()
	src := serve(t, cfg)
	stop := make(chan struct{})
	acks, wait := load(t, src, 4, stop)
	waitFor(t, "30 acknowledged writes before the backup", func() bool { return len(acks()) >= 30 })
	// And a signed head over them, so that the backup's head (the latest) covers them.
	var signed uint64
	waitFor(t, "a signed head over 30 records", func() bool {
		h, err := src.h.Audit.Log.Head(ctx)
		signed = h.Size
		return err == nil && h.Size >= 30
	})
	mustCover := 0
	for _, a := range acks() {
		if a.audit < signed {
			mustCover++
		}
	}
	require.Positive(t, mustCover)
	archive := filepath.Join(t.TempDir(), "hub.backup")
	before := len(acks())
	res, err := backup.Backup(ctx, cfg, archive, t.Logf)
	require.NoError(t, err)
	during := len(acks()) - before
	// The writers go on after the backup; the restored hub must not have those.
	waitFor(t, "30 acknowledged writes after the backup", func() bool { return len(acks()) >= before+during+30 })
	close(stop)
	wait()
	src.stop()
	m := res.Manifest
	t.Logf("backup: head %d of %d records; %d writes acknowledged before it started, %d while it ran, %d in all", m.Head.Size, m.LogSize, before, during, len(acks()))
	require.True(t, res.Unencrypted == (cfg.CAPasswordFile == ""))

	dst := restoreCfg.DataDir
	restored, err := backup.Restore(ctx, backup.RestoreOptions{From: archive, Config: restoreCfg}, t.Logf)
	require.NoError(t, err)
	require.Equal(t, m.Head, restored.Head)
	_, err = os.Stat(filepath.Join(dst, backup.MarkerFile))
	require.NoError(t, err)

	restoreCfg.Demo = false // the restored hub serves what was backed up
	r := serve(t, restoreCfg)
	_, err = os.Stat(filepath.Join(dst, backup.CheckedMarkerFile))
	require.NoError(t, err, "the first start checked the restored log and kept the evidence")
	v, err := sm2sig.NewVerifier(&r.h.SigningKey.PublicKey)
	require.NoError(t, err, "the restored hub has the same signing key")
	require.Equal(t, m.HubKeyID, v.KeyID())
	covered := 0
	for _, a := range acks() {
		if a.audit >= m.Head.Size {
			continue // acknowledged after the backup's head: may or may not be in it
		}
		covered++
		b, err := r.h.Store.Records().Batch(ctx, a.batch)
		require.NoError(t, err, "acknowledged batch %s (audit #%d < head %d) is restored", a.batch, a.audit, m.Head.Size)
		require.Equal(t, "500000-SCJG-0001", b.Resource)
		e, err := r.h.Audit.Log.GetRecord(ctx, a.audit)
		require.NoError(t, err)
		require.Equal(t, ledger.KindPublish, e.Record.Kind)
		require.Equal(t, a.batch, e.Record.RequestID)
		p, err := r.h.Audit.Log.InclusionProof(ctx, a.audit, m.Head.Size)
		require.NoError(t, err)
		require.NoError(t, verify.Inclusion(v, m.Head, a.audit, e.Leaf, p), "record %d is proven in the backup's signed head", a.audit)
	}
	require.GreaterOrEqual(t, m.Head.Size, signed, "the backup's head is the latest signed before it")
	require.GreaterOrEqual(t, covered, mustCover, "every write under a head signed before the backup is checked")
	// The restored hub goes on writing after the backup's records.
	id, err := identity.Load(filepath.Join(dst, "demo", filepath.Base(src.dirs[1])), nil)
	require.NoError(t, err)
	c, err := sdk.Dial(ctx, id, sdk.WithURL(r.url))
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.Records.Publish(ctx, &exchangev1.PublishRequest{Resource: "500000-SCJG-0001", BatchId: "after-restore",
		Changes: []*exchangev1.RecordChange{{Op: exchangev1.ChangeOp_CHANGE_OP_UPSERT, Subject: "91500000MA5U000010", Fields: map[string]string{"name": "恢复后"}}}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, resp.GetAuditReference(), m.LogSize)
}

func TestBackupUnderLoadSQLite(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "ca-password")
	require.NoError(t, os.WriteFile(pw, []byte("correct horse battery\n"), 0o600))
	cfg := hubConfig(t, filepath.Join(dir, "live"))
	cfg.CAPasswordFile = pw
	rcfg := hubConfig(t, filepath.Join(dir, "restored"))
	rcfg.CAPasswordFile = pw
	backupUnderLoad(t, cfg, rcfg)
}

func TestBackupUnderLoadPostgres(t *testing.T) {
	dir := t.TempDir()
	cfg := hubConfig(t, filepath.Join(dir, "live"))
	cfg.Store.Driver, cfg.Store.PostgresDSN = "postgres", pgtest.FreshSchemaDSN(t)
	rcfg := hubConfig(t, filepath.Join(dir, "restored"))
	rcfg.Store.Driver, rcfg.Store.PostgresDSN = "postgres", freshDatabaseDSN(t, cfg.Store.PostgresDSN)
	backupUnderLoad(t, cfg, rcfg)
}

// freshDatabaseDSN creates an empty database beside the one of dsn (dropped at cleanup)
// and returns a DSN for it whose search_path is a schema named otherwise than dsn's: the
// restore recreates the backed-up schema there and renames it.
func freshDatabaseDSN(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	admin, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := "gxrestore_" + hex.EncodeToString(b)
	_, err = admin.Exec(`CREATE DATABASE ` + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`) })
	u.Path = "/" + name
	q.Set("search_path", "restored_"+hex.EncodeToString(b))
	u.RawQuery = q.Encode()
	return u.String()
}

// archiveEntries reads the names and contents of an archive.
func archiveEntries(t *testing.T, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = b
	}
}

// writeArchive writes entries (in the given order) as an archive.
func writeArchive(t *testing.T, p string, names []string, entries map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(entries[n])), Typeflag: tar.TypeReg}))
		_, err := tw.Write(entries[n])
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
}

// TestRestoreRefuses: what a restore must not accept, each leaving nothing written.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pw := filepath.Join(dir, "ca-password")
	require.NoError(t, os.WriteFile(pw, []byte("correct horse battery"), 0o600))
	cfg := hubConfig(t, filepath.Join(dir, "live"))
	cfg.CAPasswordFile = pw
	src := serve(t, cfg)
	archive := filepath.Join(dir, "hub.backup")
	res, err := backup.Backup(ctx, cfg, archive, nil)
	require.NoError(t, err)
	src.stop()

	entries := archiveEntries(t, archive)
	var m backup.Manifest
	require.NoError(t, json.Unmarshal(entries["manifest.json"], &m))
	var names []string
	encrypted := 0
	for _, e := range m.Entries {
		names = append(names, e.Name)
		if e.Encrypted {
			encrypted++
			require.NotContains(t, string(entries[e.Name]), "PRIVATE KEY", "%s is encrypted in the archive", e.Name)
		}
	}
	require.GreaterOrEqual(t, encrypted, 8+4, "the hub's keys and the demo identities' keys are encrypted")
	require.NotNil(t, res.Manifest.Encryption)
	order := append([]string{"manifest.json", "manifest.sig"}, names...)

	restoreTo := func(name string) config.Config {
		c := hubConfig(t, filepath.Join(dir, name))
		c.CAPasswordFile = pw
		return c
	}
	nothingWritten := func(c config.Config) {
		t.Helper()
		_, err := os.Stat(filepath.Join(c.DataDir, "gxhub.db"))
		require.ErrorIs(t, err, os.ErrNotExist, "nothing restored")
	}

	t.Run("a non-empty data directory", func(t *testing.T) {
		c := restoreTo("busy")
		require.NoError(t, os.MkdirAll(c.DataDir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(c.DataDir, "x"), []byte("x"), 0o600))
		_, err := backup.Restore(ctx, backup.RestoreOptions{From: archive, Config: c}, nil)
		require.ErrorContains(t, err, "is not empty")
		nothingWritten(c)
	})
	t.Run("an altered database", func(t *testing.T) {
		altered := map[string][]byte{}
		for k, v := range entries {
			altered[k] = v
		}
		db := append([]byte(nil), entries["db/gxhub.db"]...)
		db[len(db)/2] ^= 1
		altered["db/gxhub.db"] = db
		p := filepath.Join(dir, "altered.backup")
		writeArchive(t, p, order, altered)
		c := restoreTo("altered")
		_, err := backup.Restore(ctx, backup.RestoreOptions{From: p, Config: c}, nil)
		require.ErrorContains(t, err, "db/gxhub.db is damaged or altered")
		nothingWritten(c)
	})
	t.Run("a manifest not signed by the hub", func(t *testing.T) {
		forged := map[string][]byte{}
		for k, v := range entries {
			forged[k] = v
		}
		forged["manifest.json"] = bytes.Replace(entries["manifest.json"], []byte(`"log_size": `), []byte(`"log_size": 1`), 1)
		p := filepath.Join(dir, "forged.backup")
		writeArchive(t, p, order, forged)
		c := restoreTo("forged")
		_, err := backup.Restore(ctx, backup.RestoreOptions{From: p, Config: c}, nil)
		require.ErrorContains(t, err, "manifest signature does not verify")
		nothingWritten(c)
	})
	t.Run("another hub's key pinned", func(t *testing.T) {
		other := serve(t, hubConfig(t, filepath.Join(dir, "other")))
		pem, err := os.ReadFile(filepath.Join(dir, "other", "ca", "hub-signing-key.pem"))
		require.NoError(t, err)
		_ = other
		pub, err := sm2Public(pem)
		require.NoError(t, err)
		c := restoreTo("pinned")
		_, err = backup.Restore(ctx, backup.RestoreOptions{From: archive, Config: c, LogKeyPEM: pub}, nil)
		require.ErrorContains(t, err, "pinned --log-key")
		nothingWritten(c)
	})
	t.Run("a wrong password", func(t *testing.T) {
		wrong := filepath.Join(dir, "wrong-password")
		require.NoError(t, os.WriteFile(wrong, []byte("not the password"), 0o600))
		c := restoreTo("wrong")
		c.CAPasswordFile = wrong
		_, err := backup.Restore(ctx, backup.RestoreOptions{From: archive, Config: c}, nil)
		require.ErrorContains(t, err, "does not decrypt")
		nothingWritten(c)
		c.CAPasswordFile = ""
		_, err = backup.Restore(ctx, backup.RestoreOptions{From: archive, Config: c}, nil)
		require.ErrorContains(t, err, "--ca-password-file")
	})
	t.Run("first start refuses a log behind the backup's head", func(t *testing.T) {
		c := restoreTo("behind")
		_, err := backup.Restore(ctx, backup.RestoreOptions{From: archive, Config: c}, nil)
		require.NoError(t, err)
		// As if the store had lost records after the restore: the marker's head is bigger.
		marker := filepath.Join(c.DataDir, backup.MarkerFile)
		b, err := os.ReadFile(marker)
		require.NoError(t, err)
		var mm backup.Manifest
		require.NoError(t, json.Unmarshal(b, &mm))
		mm.Head.Size += 5
		b, err = json.Marshal(mm)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(marker, b, 0o600))
		c.Demo = false
		_, err = hub.New(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.ErrorContains(t, err, "records")
		require.ErrorContains(t, err, "are missing")
		require.True(t, strings.Contains(err.Error(), "the backup's signed head"), err.Error())
	})
}

// sm2Public returns the public key PEM of an unencrypted private key PEM.
func sm2Public(keyPEM []byte) ([]byte, error) {
	k, err := sm.ParsePrivateKeyPEM(keyPEM, nil)
	if err != nil {
		return nil, err
	}
	return sm.MarshalPublicKeyPEM(&k.PublicKey)
}
