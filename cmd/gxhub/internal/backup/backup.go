// Package backup makes and restores backups of a hub (REQUIREMENTS F4): a consistent
// snapshot of the store taken while the hub serves, the hub's own files (CA, keys, TLS,
// identities), and a signed manifest holding the latest signed tree head of the audit log.
//
// SQLite: VACUUM INTO copies one read transaction's snapshot. PostgreSQL: pg_dump of the
// hub's schema under a snapshot exported by a REPEATABLE READ transaction, in which the
// head and leaves are read too, so the dump and the head agree. Both check, before the
// archive is written, that the head is signed by the hub and that the snapshot's leaves
// hash to its root; a restore checks the archive (manifest signature, every entry's SM3),
// the restored store against the head again, and leaves a marker that the hub's next start
// checks against its anchor (ledger/log CheckHead, CheckAnchored).
//
// Archive: a gzipped tar of manifest.json, manifest.sig (SM2 by the hub's signing key over
// manifest.json), db/gxhub.db or db/postgres.dump, and files/… (the data directory less
// the database). With a CA password configured, every key file is encrypted in the archive
// (SM4-GCM, key from PBKDF2-SM3 of the password); without one the archive holds the keys
// as the data directory does, and Backup says so.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/cmd/gxhub/internal/config"
	"github.com/gxhub/gxhub/exchange/store/sqlite"
	"github.com/gxhub/gxhub/exchange/store/sqlstore"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
	"github.com/gxhub/gxhub/ledger/verify"
)

// Format names the archive layout in the manifest.
const Format = "gxhub-backup/1"

// MarkerFile, in a restored data directory, holds the manifest of the backup it was
// restored from; the hub's first start checks its log against the manifest's head and
// renames it to CheckedMarkerFile.
const (
	MarkerFile        = "restored-from-backup.json"
	CheckedMarkerFile = "restored-from-backup.checked.json"
)

// signingKeyFile is the hub's SM2 key (tree heads, anchors, pull responses), in DATA_DIR.
var signingKeyFile = filepath.Join("ca", "hub-signing-key.pem")

// pbkdf2Iterations derives the archive key from the CA password.
const pbkdf2Iterations = 200_000

// Manifest describes an archive.
type Manifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	// Store is sqlite or postgres; Schema the PostgreSQL schema that was dumped.
	Store  string `json:"store"`
	Schema string `json:"schema,omitempty"`
	LogID  string `json:"log_id"`
	// Head is the latest signed tree head in the snapshot; LogSize the records the
	// snapshot holds (at least Head.Size: records appended after the last head).
	Head    ledger.SignedTreeHead `json:"head"`
	LogSize uint64                `json:"log_size"`
	// HubPublicKeyPEM verifies Head and manifest.sig; HubKeyID is its key id.
	HubPublicKeyPEM string      `json:"hub_public_key_pem"`
	HubKeyID        string      `json:"hub_key_id"`
	Encryption      *Encryption `json:"encryption,omitempty"`
	Entries         []Entry     `json:"entries"`
}

// Encryption says how key files are encrypted in the archive.
type Encryption struct {
	Cipher     string `json:"cipher"` // SM4-GCM (nonce ‖ ciphertext ‖ tag)
	KDF        string `json:"kdf"`    // PBKDF2-SM3 of the CA password
	Iterations int    `json:"iterations"`
	Salt       string `json:"salt"` // hex
}

// Entry is one file of the archive.
type Entry struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// SM3 of the content as stored in the archive (encrypted, if Encrypted).
	SM3       string `json:"sm3"`
	Encrypted bool   `json:"encrypted,omitempty"`
}

// Result is what Backup made.
type Result struct {
	Manifest *Manifest
	// Unencrypted is set when no CA password is configured: keys are in the clear.
	Unencrypted bool
}

// isKey reports whether a data-directory file holds secret key material.
func isKey(rel string) bool {
	base := path.Base(rel)
	return base == "key.pem" || strings.HasSuffix(base, "-key.pem") || base == "subject-key" || strings.HasSuffix(base, ".key")
}

// Backup writes an archive of the hub configured by cfg to out, while it may be serving.
func Backup(ctx context.Context, cfg config.Config, out string, progress func(format string, args ...any)) (*Result, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	password, err := config.ReadPassword(cfg.CAPasswordFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(cfg.DataDir, signingKeyFile))
	if err != nil {
		return nil, fmt.Errorf("the hub's signing key (is %s a hub's data directory?): %w", cfg.DataDir, err)
	}
	key, err := sm.ParsePrivateKeyPEM(keyPEM, password)
	if err != nil {
		return nil, fmt.Errorf("the hub's signing key %s (wrong ca_password_file?): %w", signingKeyFile, err)
	}
	verifier, err := sm2sig.NewVerifier(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	pubPEM, err := sm.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".gxhub-backup-")
	if err != nil {
		return nil, fmt.Errorf("working directory beside %s: %w", out, err)
	}
	defer os.RemoveAll(tmp)

	m := &Manifest{Format: Format, CreatedAt: time.Now().UTC().Truncate(time.Second), Store: cfg.Store.Driver, LogID: cfg.AuditLogID,
		HubPublicKeyPEM: string(pubPEM), HubKeyID: verifier.KeyID()}
	root := verify.NewRootBuilder()
	var dbFile, dbName string
	switch cfg.Store.Driver {
	case "postgres":
		dbName, dbFile = "db/postgres.dump", filepath.Join(tmp, "postgres.dump")
		progress("dumping the PostgreSQL schema (pg_dump under one exported snapshot)")
		if m.Schema, m.Head, m.LogSize, err = dumpPostgres(ctx, cfg.Store.PostgresDSN, cfg.AuditLogID, dbFile, root.Add); err != nil {
			return nil, err
		}
	default:
		dbName, dbFile = "db/"+sqlite.FileName, filepath.Join(tmp, sqlite.FileName)
		progress("copying the SQLite database (VACUUM INTO: one consistent snapshot)")
		if err := sqlite.Snapshot(ctx, cfg.DataDir, dbFile); err != nil {
			return nil, err
		}
		db, err := sqlite.OpenReadOnly(dbFile)
		if err != nil {
			return nil, err
		}
		m.Head, m.LogSize, err = sqlstore.SnapshotLog(ctx, db, cfg.AuditLogID, root.Add)
		db.Close()
		if err != nil {
			return nil, err
		}
	}
	progress("checking the snapshot's audit log: %d records, latest signed head of %d", m.LogSize, m.Head.Size)
	if err := checkHead(verifier, m.Head, root); err != nil {
		return nil, fmt.Errorf("the snapshot's audit log does not match its signed head, nothing written: %w", err)
	}

	var aead cipher.AEAD
	if len(password) > 0 {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		m.Encryption = &Encryption{Cipher: "SM4-GCM", KDF: "PBKDF2-SM3", Iterations: pbkdf2Iterations, Salt: hex.EncodeToString(salt)}
		if aead, err = archiveCipher(password, m.Encryption); err != nil {
			return nil, err
		}
	}
	// Stage every entry in tmp as it will be stored, then write manifest and archive.
	type staged struct{ name, file string }
	entries := []staged{{dbName, dbFile}}
	err = filepath.WalkDir(cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(cfg.DataDir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".gxhub-backup-") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, sqlite.FileName) || rel == MarkerFile || rel == CheckedMarkerFile || !d.Type().IsRegular() {
			return nil // the database travels as its snapshot
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		e := staged{name: "files/" + rel, file: filepath.Join(tmp, "stage-"+fmt.Sprint(len(entries)))}
		if aead != nil && isKey(rel) {
			if b, err = seal(aead, b, e.name); err != nil {
				return err
			}
			e.name += ".sm4"
		}
		if err := os.WriteFile(e.file, b, 0o600); err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the data directory %s: %w", cfg.DataDir, err)
	}
	sort.Slice(entries[1:], func(i, j int) bool { return entries[1+i].name < entries[1+j].name })
	for _, e := range entries {
		sum, size, err := sumFile(e.file)
		if err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, Entry{Name: e.name, Size: size, SM3: sum, Encrypted: strings.HasSuffix(e.name, ".sm4")})
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	sig, err := sm.Sign(key, manifest)
	if err != nil {
		return nil, err
	}
	progress("writing %s (%d entries)", out, len(m.Entries)+2)
	part := out + ".part"
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	if err := writeArchive(f, manifest, sig, m.Entries, func(i int) string { return entries[i].file }); err != nil {
		f.Close()
		os.Remove(part)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(part)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(part)
		return nil, err
	}
	if err := os.Rename(part, out); err != nil {
		os.Remove(part)
		return nil, err
	}
	return &Result{Manifest: m, Unencrypted: aead == nil}, nil
}

// checkHead checks the head's signature and that the leaves hashed by root (the first
// head.Size of the snapshot) have its root.
func checkHead(v ledger.Verifier, h ledger.SignedTreeHead, root *verify.RootBuilder) error {
	if err := verify.Head(v, h); err != nil {
		return err
	}
	if root.Size() != h.Size {
		return fmt.Errorf("the snapshot holds %d leaves for a head of %d", root.Size(), h.Size)
	}
	if got := root.Root(); string(got) != string(h.Root) {
		return fmt.Errorf("the leaves hash to %x, the signed head says %x", got, h.Root)
	}
	return nil
}

func writeArchive(w io.Writer, manifest, sig []byte, entries []Entry, file func(i int) string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if err := add("manifest.json", int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return err
	}
	if err := add("manifest.sig", int64(len(sig)), strings.NewReader(string(sig))); err != nil {
		return err
	}
	for i, e := range entries {
		f, err := os.Open(file(i))
		if err != nil {
			return err
		}
		err = add(e.Name, e.Size, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func sumFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sm.NewSM3()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func archiveCipher(password []byte, e *Encryption) (cipher.AEAD, error) {
	if e.Cipher != "SM4-GCM" || e.KDF != "PBKDF2-SM3" || e.Iterations < 1 {
		return nil, fmt.Errorf("unsupported archive encryption %s/%s", e.Cipher, e.KDF)
	}
	salt, err := hex.DecodeString(e.Salt)
	if err != nil {
		return nil, fmt.Errorf("archive salt: %w", err)
	}
	k, err := sm.PasswordKey(string(password), salt, e.Iterations)
	if err != nil {
		return nil, err
	}
	return sm.NewSM4GCM(k)
}

// seal encrypts b, binding it to the entry name (additional data).
func seal(aead cipher.AEAD, b []byte, name string) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, b, []byte(name)), nil
}

// pgConn splits a pgx DSN (URL form) into what libpq tools accept and the schema of
// search_path ("public" when unset).
func pgConn(dsn string) (libpq, schema string, err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", fmt.Errorf("backup and restore need the PostgreSQL DSN as a postgres:// URL")
	}
	q := u.Query()
	schema = q.Get("search_path")
	if schema == "" {
		schema = "public"
	}
	if strings.ContainsAny(schema, ", \"'") {
		return "", "", fmt.Errorf("search_path %q: name one schema", schema)
	}
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// dumpPostgres dumps the hub's schema with pg_dump under a snapshot exported by a
// REPEATABLE READ transaction, and reads the audit log's head and leaves in that same
// transaction: the dump and the head are one state.
func dumpPostgres(ctx context.Context, dsn, logID, dest string, leaf func([]byte)) (string, ledger.SignedTreeHead, uint64, error) {
	var head ledger.SignedTreeHead
	libpq, schema, err := pgConn(dsn)
	if err != nil {
		return "", head, 0, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", head, 0, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return "", head, 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var snapshot string
	if err := tx.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return "", head, 0, fmt.Errorf("export a snapshot: %w", err)
	}
	head, size, err := sqlstore.SnapshotLog(ctx, tx, logID, leaf)
	if err != nil {
		return "", head, 0, err
	}
	cmd := exec.CommandContext(ctx, "pg_dump", "--snapshot="+snapshot, "--format=custom", "--no-owner", "--no-privileges",
		"--schema="+schema, "--file="+dest, "--dbname="+libpq)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", head, 0, fmt.Errorf("pg_dump (is the PostgreSQL client installed, at the server's major version?): %v: %s", err, out)
	}
	return schema, head, size, nil
}
