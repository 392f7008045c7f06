package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
)

func init() {
	register(migration{20, "resource catalogue", `
CREATE TABLE resources (
	code         TEXT PRIMARY KEY,
	provider     TEXT NOT NULL,
	name         TEXT NOT NULL,
	search_text  TEXT NOT NULL,
	item_text    TEXT NOT NULL,
	share_type   TEXT NOT NULL,
	version      INTEGER NOT NULL,
	published_at {{int64}},
	body         TEXT NOT NULL
);
CREATE INDEX resources_provider ON resources (provider, code);
CREATE TABLE resource_versions (
	code       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	updated_at {{int64}} NOT NULL,
	updated_by TEXT NOT NULL,
	body       TEXT NOT NULL,
	PRIMARY KEY (code, version)
);
`})
}

type catalog struct{ s *Store }

// Catalog implements store.Store.
func (s *Store) Catalog() store.Catalog { return catalog{s} }

// resourceJSON is the stored form of one resource version (Published is not part of it).
type resourceJSON struct {
	Code            string
	Name            string
	Provider        string
	Description     string
	Items           []exchange.DataItem
	SubjectKind     exchange.SubjectKind
	ShareType       exchange.ShareType
	Condition       string
	LegalBasis      exchange.LegalBasis // a plain string in versions stored before it was structured
	UpdateCycle     exchange.UpdateCycle
	ProvisionMethod exchange.ProvisionMethod
	ScopeRegion     string
	ScopeLevel      exchange.Level
	FreshnessLimit  int
	ObjectionDays   int  `json:",omitempty"`
	Withdrawn       bool `json:",omitempty"`
	Version         int
	UpdatedAt       int64
	UpdatedBy       string
}

func encodeResource(r *exchange.Resource) (string, error) {
	b, err := json.Marshal(resourceJSON{
		Code: r.Code, Name: r.Name, Provider: r.Provider, Description: r.Description, Items: r.Items,
		SubjectKind: r.SubjectKind, ShareType: r.ShareType, Condition: r.Condition, LegalBasis: r.LegalBasis,
		UpdateCycle: r.UpdateCycle, ProvisionMethod: r.ProvisionMethod, ScopeRegion: r.ScopeRegion, ScopeLevel: r.ScopeLevel,
		FreshnessLimit: r.FreshnessLimit, ObjectionDays: r.ObjectionDays, Withdrawn: r.Withdrawn,
		Version: r.Version, UpdatedAt: r.UpdatedAt.UnixMicro(), UpdatedBy: r.UpdatedBy,
	})
	return string(b), err
}

func decodeResource(body string, publishedAt sql.NullInt64) (*exchange.Resource, error) {
	var j resourceJSON
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		return nil, err
	}
	r := &exchange.Resource{
		Code: j.Code, Name: j.Name, Provider: j.Provider, Description: j.Description, Items: j.Items,
		SubjectKind: j.SubjectKind, ShareType: j.ShareType, Condition: j.Condition, LegalBasis: j.LegalBasis,
		UpdateCycle: j.UpdateCycle, ProvisionMethod: j.ProvisionMethod, ScopeRegion: j.ScopeRegion, ScopeLevel: j.ScopeLevel,
		FreshnessLimit: j.FreshnessLimit, ObjectionDays: j.ObjectionDays, Withdrawn: j.Withdrawn,
		Version: j.Version, UpdatedAt: time.UnixMicro(j.UpdatedAt).UTC(), UpdatedBy: j.UpdatedBy,
	}
	if publishedAt.Valid {
		r.Published, r.PublishedAt = true, time.UnixMicro(publishedAt.Int64).UTC()
	}
	return r, nil
}

// searchTexts returns the lower-cased text searched by Text and by Item.
func searchTexts(r *exchange.Resource) (text, items string) {
	var b strings.Builder
	for _, it := range r.Items {
		b.WriteString("\n" + it.Name + "\n" + it.Title)
	}
	return strings.ToLower(r.Code + "\n" + r.Name + "\n" + r.Description), strings.ToLower(b.String())
}

func resourceNotFound(code string) error {
	return exchange.Errorf(exchange.KindNotFound, "RESOURCE_NOT_FOUND", "no resource with code %q is in the catalogue", code)
}

func (c catalog) Create(ctx context.Context, r *exchange.Resource) error {
	r.Version = 1
	body, err := encodeResource(r)
	if err != nil {
		return err
	}
	text, items := searchTexts(r)
	tx, err := c.s.begin(ctx, nil)
	if err != nil {
		return unavailable("create resource", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO resources (code, provider, name, search_text, item_text, share_type, version, body)
VALUES ($1, $2, $3, $4, $5, $6, 1, $7)`, r.Code, r.Provider, r.Name, text, items, string(r.ShareType), body); err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "RESOURCE_EXISTS", "resource %s is already in the catalogue: update it instead", r.Code)
		}
		return unavailable("create resource", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO resource_versions (code, version, updated_at, updated_by, body) VALUES ($1, 1, $2, $3, $4)`,
		r.Code, r.UpdatedAt.UnixMicro(), r.UpdatedBy, body); err != nil {
		return unavailable("create resource", err)
	}
	if err := tx.Commit(); err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return exchange.Errorf(exchange.KindAlreadyExists, "RESOURCE_EXISTS", "resource %s is already in the catalogue: update it instead", r.Code)
		}
		return unavailable("create resource", err)
	}
	return nil
}

func (c catalog) Update(ctx context.Context, r *exchange.Resource) error {
	tx, err := c.s.begin(ctx, nil)
	if err != nil {
		return unavailable("update resource", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := c.s.updateResource(ctx, tx, r); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		if c.s.d.IsUniqueViolation(err) {
			return versionConflict(r)
		}
		return unavailable("update resource", err)
	}
	return nil
}

func versionConflict(r *exchange.Resource) error {
	return exchange.Errorf(exchange.KindFailedPrecondition, "RESOURCE_VERSION_CONFLICT", "resource %s version %d was stored concurrently: read it and apply the change again", r.Code, r.Version)
}

// updateResource stores r as the next version inside tx (compare-and-set on the version and
// the provider; see store.Catalog.Update).
func (s *Store) updateResource(ctx context.Context, tx *txn, r *exchange.Resource) error {
	body, err := encodeResource(r)
	if err != nil {
		return err
	}
	text, items := searchTexts(r)
	res, err := tx.ExecContext(ctx, `UPDATE resources SET name = $1, search_text = $2, item_text = $3, share_type = $4, version = $5, body = $6
WHERE code = $7 AND version = $8 AND provider = $9`, r.Name, text, items, string(r.ShareType), r.Version, body, r.Code, r.Version-1, r.Provider)
	if err != nil {
		return unavailable("update resource", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("update resource", err)
	} else if n == 0 {
		var (
			version  int
			provider string
		)
		err := tx.QueryRowContext(ctx, `SELECT version, provider FROM resources WHERE code = $1`, r.Code).Scan(&version, &provider)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return resourceNotFound(r.Code)
		case err != nil:
			return unavailable("update resource", err)
		case provider != r.Provider:
			return exchange.Errorf(exchange.KindFailedPrecondition, "RESOURCE_PROVIDER_FIXED",
				"resource %s belongs to provider %s: its provider cannot change (register a new resource instead)", r.Code, provider)
		default:
			return exchange.Errorf(exchange.KindFailedPrecondition, "RESOURCE_VERSION_CONFLICT",
				"resource %s is at version %d, so version %d cannot be stored: read the current version and apply the change again", r.Code, version, r.Version)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO resource_versions (code, version, updated_at, updated_by, body) VALUES ($1, $2, $3, $4, $5)`,
		r.Code, r.Version, r.UpdatedAt.UnixMicro(), r.UpdatedBy, body); err != nil {
		if s.d.IsUniqueViolation(err) {
			return versionConflict(r)
		}
		return unavailable("update resource", err)
	}
	return nil
}

func (c catalog) Get(ctx context.Context, code string, version int) (*exchange.Resource, error) {
	var (
		body string
		pub  sql.NullInt64
		cur  int
	)
	err := c.s.queryRow(ctx, `SELECT body, published_at, version FROM resources WHERE code = $1`, code).Scan(&body, &pub, &cur)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, resourceNotFound(code)
	}
	if err != nil {
		return nil, unavailable("get resource", err)
	}
	if version != 0 && version != cur {
		err := c.s.queryRow(ctx, `SELECT body FROM resource_versions WHERE code = $1 AND version = $2`, code, version).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, exchange.Errorf(exchange.KindNotFound, "RESOURCE_VERSION_NOT_FOUND", "resource %s has versions 1 to %d, not %d", code, cur, version)
		}
		if err != nil {
			return nil, unavailable("get resource version", err)
		}
	}
	r, err := decodeResource(body, pub)
	if err != nil {
		return nil, unavailable("decode resource", err)
	}
	return r, nil
}

func checkLimit(limit int) error {
	if limit < 1 || limit > 1000 {
		return exchange.Errorf(exchange.KindInvalid, "PAGE_SIZE_INVALID", "page size must be between 1 and 1000, got %d", limit)
	}
	return nil
}

func (c catalog) History(ctx context.Context, code string, afterVersion, limit int) ([]*exchange.Resource, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	var pub sql.NullInt64
	if err := c.s.queryRow(ctx, `SELECT published_at FROM resources WHERE code = $1`, code).Scan(&pub); errors.Is(err, sql.ErrNoRows) {
		return nil, resourceNotFound(code)
	} else if err != nil {
		return nil, unavailable("resource history", err)
	}
	rows, err := c.s.query(ctx, `SELECT body FROM resource_versions WHERE code = $1 AND version > $2 ORDER BY version LIMIT $3`, code, afterVersion, limit)
	if err != nil {
		return nil, unavailable("resource history", err)
	}
	defer rows.Close()
	var out []*exchange.Resource
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, unavailable("resource history", err)
		}
		r, err := decodeResource(body, pub)
		if err != nil {
			return nil, unavailable("decode resource", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("resource history", err)
	}
	return out, nil
}

// likePattern returns a LIKE pattern matching s as a literal substring (escape '\').
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

func (c catalog) Search(ctx context.Context, f store.ResourceFilter, after string, limit int) ([]*exchange.Resource, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	q := `SELECT body, published_at FROM resources WHERE code > $1`
	args := []any{after}
	add := func(cond string, v any) {
		args = append(args, v)
		q += " AND " + strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args)))
	}
	if f.Text != "" {
		add(`search_text LIKE $? ESCAPE '\'`, likePattern(f.Text))
	}
	if f.Item != "" {
		add(`item_text LIKE $? ESCAPE '\'`, likePattern(f.Item))
	}
	if f.Provider != "" {
		add(`provider = $?`, f.Provider)
	}
	if f.ShareType != "" {
		add(`share_type = $?`, string(f.ShareType))
	}
	args = append(args, limit)
	q += ` ORDER BY code LIMIT $` + strconv.Itoa(len(args))
	rows, err := c.s.queryRaw(ctx, q, args...) // built per call: not cached
	if err != nil {
		return nil, unavailable("search resources", err)
	}
	defer rows.Close()
	var out []*exchange.Resource
	for rows.Next() {
		var (
			body string
			pub  sql.NullInt64
		)
		if err := rows.Scan(&body, &pub); err != nil {
			return nil, unavailable("search resources", err)
		}
		r, err := decodeResource(body, pub)
		if err != nil {
			return nil, unavailable("decode resource", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("search resources", err)
	}
	return out, nil
}

func (c catalog) MarkPublished(ctx context.Context, code string, at time.Time) error {
	res, err := c.s.exec(ctx, `UPDATE resources SET published_at = $1 WHERE code = $2 AND published_at IS NULL`, at.UnixMicro(), code)
	if err != nil {
		return unavailable("mark resource published", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("mark resource published", err)
	} else if n == 0 {
		var one int
		if err := c.s.queryRow(ctx, `SELECT 1 FROM resources WHERE code = $1`, code).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return resourceNotFound(code)
		} else if err != nil {
			return unavailable("mark resource published", err)
		}
	}
	return nil
}
