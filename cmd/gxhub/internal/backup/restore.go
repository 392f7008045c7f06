package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
)

// RestoreOptions says where to restore.
type RestoreOptions struct {
	// From is the archive.
	From string
	// Config is the restored hub's configuration: DataDir (the new data directory),
	// Store (sqlite, or postgres with the DSN of the target schema), CAPasswordFile (the
	// password the keys were encrypted with, when they were).
	Config config.Config
	// Force restores into a non-empty data directory (files of the archive replace those
	// of the same name) or PostgreSQL schema (dropped first).
	Force bool
	// LogKeyPEM, if set, is the hub's public key as pinned out of band: the archive must
	// be signed by it (otherwise it is only checked against the key it carries).
	LogKeyPEM []byte
}

// Restore checks the archive and restores it: files into the data directory, the
// database into SQLite there or into the PostgreSQL schema. It checks the restored log
// against the manifest's signed head and leaves MarkerFile for the hub's first start.
func Restore(ctx context.Context, o RestoreOptions, progress func(format string, args ...any)) (*Manifest, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := emptyDir(cfg.DataDir, o.Force); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(filepath.Clean(cfg.DataDir)), ".gxhub-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	progress("checking %s", o.From)
	m, files, err := readArchive(o.From, work, o.LogKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was restored", o.From, err)
	}
	if m.Store != cfg.Store.Driver {
		return nil, fmt.Errorf("the archive holds a %s store; restore it with --store %s", m.Store, m.Store)
	}
	var aead interface {
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
		NonceSize() int
	}
	if m.Encryption != nil {
		password, err := config.ReadPassword(cfg.CAPasswordFile)
		if err != nil {
			return nil, err
		}
		if len(password) == 0 {
			return nil, errors.New("the archive's keys are encrypted with the hub's CA password: give it with --ca-password-file; nothing was restored")
		}
		if aead, err = archiveCipher(password, m.Encryption); err != nil {
			return nil, err
		}
	}
	// Decrypt every key first, so that a wrong password writes nothing.
	plain := map[string][]byte{}
	for _, e := range m.Entries {
		if !e.Encrypted {
			continue
		}
		b, err := os.ReadFile(files[e.Name])
		if err != nil {
			return nil, err
		}
		nonce := aead.NonceSize()
		if len(b) < nonce {
			return nil, fmt.Errorf("%s is truncated", e.Name)
		}
		if plain[e.Name], err = aead.Open(nil, b[:nonce], b[nonce:], []byte(strings.TrimSuffix(e.Name, ".sm4"))); err != nil {
			return nil, fmt.Errorf("%s does not decrypt: wrong --ca-password-file? nothing was restored", e.Name)
		}
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	switch m.Store {
	case "postgres":
		progress("restoring the PostgreSQL schema (pg_restore)")
		if err := restorePostgres(ctx, cfg.Store.PostgresDSN, m.Schema, files["db/postgres.dump"], o.Force); err != nil {
			return nil, err
		}
	default:
		progress("restoring the SQLite database")
		dst := filepath.Join(cfg.DataDir, sqlite.FileName)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if err := copyFile(files["db/"+sqlite.FileName], dst); err != nil {
			return nil, err
		}
	}
	for _, e := range m.Entries {
		if !strings.HasPrefix(e.Name, "files/") {
			continue
		}
		rel := strings.TrimPrefix(e.Name, "files/")
		dst := filepath.Join(cfg.DataDir, filepath.FromSlash(strings.TrimSuffix(rel, ".sm4")))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if e.Encrypted {
			err = writeFile(dst, plain[e.Name])
		} else {
			err = copyFile(files[e.Name], dst)
		}
		if err != nil {
			return nil, err
		}
	}

	progress("checking the restored audit log against the backup's signed head (size %d)", m.Head.Size)
	if err := checkRestored(ctx, cfg, m); err != nil {
		return nil, fmt.Errorf("the restored store does not hold the backup's audit log: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(cfg.DataDir, MarkerFile), b); err != nil {
		return nil, err
	}
	return m, nil
}

// checkRestored reads the restored store's log like the backup read the snapshot.
func checkRestored(ctx context.Context, cfg config.Config, m *Manifest) error {
	pub, err := sm.ParsePublicKeyPEM([]byte(m.HubPublicKeyPEM))
	if err != nil {
		return err
	}
	v, err := sm2sig.NewVerifier(pub)
	if err != nil {
		return err
	}
	var db *sql.DB
	if cfg.Store.Driver == "postgres" {
		db, err = sql.Open("pgx", cfg.Store.PostgresDSN)
	} else {
		db, err = sqlite.OpenReadOnly(filepath.Join(cfg.DataDir, sqlite.FileName))
	}
	if err != nil {
		return err
	}
	defer db.Close()
	root := verify.NewRootBuilder()
	head, size, err := sqlstore.SnapshotLog(ctx, db, m.LogID, root.Add)
	if err != nil {
		return err
	}
	if !ledger.SameHead(head.TreeHead, m.Head.TreeHead) || size != m.LogSize {
		return fmt.Errorf("latest head %d (log of %d records), the manifest says %d (%d records)", head.Size, size, m.Head.Size, m.LogSize)
	}
	return checkHead(v, head, root)
}

// emptyDir refuses a non-empty data directory unless force.
func emptyDir(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 && !force {
		return fmt.Errorf("the data directory %s is not empty (%d entries): restore into a new directory, or pass --force to restore over it", dir, len(ents))
	}
	return nil
}

// readArchive extracts the archive into work and checks it: manifest signature (by the
// key it carries, and pinned if given), the entry list, every entry's size and SM3, and
// the head's signature. It returns the manifest and where each entry was extracted.
func readArchive(archive, work string, pinned []byte) (*Manifest, map[string]string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("not a gxhub backup (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	var manifest, sig []byte
	files := map[string]string{}
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("the archive is damaged: %w", err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return nil, nil, fmt.Errorf("unexpected archive entry %q", hdr.Name)
		}
		switch name {
		case "manifest.json":
			manifest, err = io.ReadAll(io.LimitReader(tr, 16<<20))
		case "manifest.sig":
			sig, err = io.ReadAll(io.LimitReader(tr, 1<<10))
		default:
			p := filepath.Join(work, fmt.Sprintf("entry-%d", i))
			files[name] = p
			err = writeFrom(p, tr)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("the archive is damaged: %w", err)
		}
	}
	if manifest == nil || sig == nil {
		return nil, nil, errors.New("not a gxhub backup: manifest.json or manifest.sig missing")
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest.json: %w", err)
	}
	if m.Format != Format {
		return nil, nil, fmt.Errorf("archive format %q; this gxhub reads %q", m.Format, Format)
	}
	pub, err := sm.ParsePublicKeyPEM([]byte(m.HubPublicKeyPEM))
	if err != nil {
		return nil, nil, fmt.Errorf("manifest: hub key: %w", err)
	}
	if len(pinned) > 0 {
		want, err := sm.ParsePublicKeyPEM(pinned)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-key: %w", err)
		}
		if !want.Equal(pub) {
			return nil, nil, errors.New("the archive is signed by another key than the pinned --log-key")
		}
	}
	if err := sm.Verify(pub, manifest, sig); err != nil {
		return nil, nil, fmt.Errorf("manifest signature does not verify: %w", err)
	}
	v, err := sm2sig.NewVerifier(pub)
	if err != nil {
		return nil, nil, err
	}
	if err := verify.Head(v, m.Head); err != nil {
		return nil, nil, fmt.Errorf("manifest head: %w", err)
	}
	if len(files) != len(m.Entries) {
		return nil, nil, fmt.Errorf("the archive holds %d entries, the manifest lists %d", len(files), len(m.Entries))
	}
	for _, e := range m.Entries {
		p, ok := files[e.Name]
		if !ok {
			return nil, nil, fmt.Errorf("%s is missing", e.Name)
		}
		sum, size, err := sumFile(p)
		if err != nil {
			return nil, nil, err
		}
		if sum != e.SM3 || size != e.Size {
			return nil, nil, fmt.Errorf("%s is damaged or altered (SM3 %s, the manifest says %s)", e.Name, sum, e.SM3)
		}
	}
	return &m, files, nil
}

// restorePostgres restores the dump into the schema the DSN names. pg_restore recreates
// the dumped schema; when the target is named otherwise, the restored schema is renamed.
func restorePostgres(ctx context.Context, dsn, from, dump string, force bool) error {
	libpq, target, err := pgConn(dsn)
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", libpq)
	if err != nil {
		return err
	}
	defer db.Close()
	count := func(schema string) (int, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&n)
		return n, err
	}
	n, err := count(target)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if n > 0 && !force {
		return fmt.Errorf("the PostgreSQL schema %s holds %d tables: restore into an empty schema, or pass --force to replace it", target, n)
	}
	if from != target {
		if n, err := count(from); err != nil || n > 0 {
			return fmt.Errorf("the backup's schema %s exists in the target database (%d tables): restore into another database, or into schema %s", from, n, from)
		}
	}
	for _, s := range []string{target, from} {
		if s != "public" {
			if _, err := db.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+quoteIdent(s)+` CASCADE`); err != nil {
				return err
			}
		} else if n, _ := count(s); n > 0 {
			if _, err := db.ExecContext(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
				return err
			}
		}
	}
	cmd := exec.CommandContext(ctx, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname="+libpq, dump)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_restore: %v: %s", err, bytes.TrimSpace(out))
	}
	if from != target {
		if target == "public" {
			return fmt.Errorf("restore a schema %s backup into a schema of that name (search_path=%s)", from, from)
		}
		if _, err := db.ExecContext(ctx, `ALTER SCHEMA `+quoteIdent(from)+` RENAME TO `+quoteIdent(target)); err != nil {
			return fmt.Errorf("rename the restored schema %s to %s: %w", from, target, err)
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func writeFrom(p string, r io.Reader) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return syncedWrite(dst, in)
}

func writeFile(dst string, b []byte) error { return syncedWrite(dst, bytes.NewReader(b)) }

// syncedWrite writes r to dst and syncs it before closing.
func syncedWrite(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadMarker returns the manifest a restored data directory was restored from, or nil.
func ReadMarker(dataDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, MarkerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", MarkerFile, err)
	}
	return &m, nil
}

// MarkChecked records that the first start checked the restored log.
func MarkChecked(dataDir string) error {
	return os.Rename(filepath.Join(dataDir, MarkerFile), filepath.Join(dataDir, CheckedMarkerFile))
}
