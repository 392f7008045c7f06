package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/exchange/store"
)

// Federation with other hubs (exchange/federation): agreements and every version of them,
// remote requirements and remote resources. Each row keeps the domain document (JSON) with
// the signatures it carries, verifiable again after reading. Versions 170–179.
func init() {
	register(migration{170, "federation: agreements with other hubs (every version), remote requirements and resources", `
CREATE TABLE federation_agreements (
	id         TEXT PRIMARY KEY,
	version    INTEGER NOT NULL,
	state      TEXT NOT NULL,
	peer       TEXT NOT NULL,
	doc        TEXT NOT NULL,
	updated_at {{int64}} NOT NULL
);
CREATE TABLE federation_agreement_versions (
	id      TEXT NOT NULL,
	version INTEGER NOT NULL,
	doc     TEXT NOT NULL,
	PRIMARY KEY (id, version)
);
CREATE TABLE federation_remote_requirements (
	id         TEXT PRIMARY KEY,
	home_hub   TEXT NOT NULL,
	consumer   TEXT NOT NULL,
	version    INTEGER NOT NULL,
	doc        TEXT NOT NULL,
	updated_at {{int64}} NOT NULL
);
CREATE INDEX federation_remote_requirements_consumer ON federation_remote_requirements (consumer, id);
CREATE TABLE federation_remote_resources (
	home_hub TEXT NOT NULL,
	code     TEXT NOT NULL,
	doc      TEXT NOT NULL,
	PRIMARY KEY (home_hub, code)
);
`})
}

type federationStore struct{ s *Store }

// Federation implements store.Store.
func (s *Store) Federation() store.Federation { return federationStore{s} }

func conflictErr(what, id string) error {
	return exchange.Errorf(exchange.KindFailedPrecondition, "CONCURRENT_CHANGE", "%s %s was changed by someone else meanwhile: read it again and retry", what, id)
}

func (f federationStore) PutAgreement(ctx context.Context, a *federation.Agreement) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	id := a.Terms.ID
	if a.Version == 1 {
		if _, err := f.s.exec(ctx, `INSERT INTO federation_agreements (id, version, state, peer, doc, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, a.Version, string(a.State), a.Peer().ID, string(doc), a.UpdatedAt.UnixMicro()); err != nil {
			if f.s.d.IsUniqueViolation(err) {
				return exchange.Errorf(exchange.KindAlreadyExists, "AGREEMENT_EXISTS", "agreement %s is already stored at this hub", id)
			}
			return unavailable("store agreement", err)
		}
	} else {
		res, err := f.s.exec(ctx, `UPDATE federation_agreements SET version = $2, state = $3, doc = $4, updated_at = $5 WHERE id = $1 AND version = $6`,
			id, a.Version, string(a.State), string(doc), a.UpdatedAt.UnixMicro(), a.Version-1)
		if err != nil {
			return unavailable("update agreement", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return conflictErr("agreement", id)
		}
	}
	if _, err := f.s.exec(ctx, `INSERT INTO federation_agreement_versions (id, version, doc) VALUES ($1, $2, $3)`, id, a.Version, string(doc)); err != nil {
		if f.s.d.IsUniqueViolation(err) {
			return conflictErr("agreement", id)
		}
		return unavailable("store agreement version", err)
	}
	return nil
}

func scanAgreement(row interface{ Scan(...any) error }) (*federation.Agreement, error) {
	var doc string
	if err := row.Scan(&doc); err != nil {
		return nil, err
	}
	a := &federation.Agreement{}
	if err := json.Unmarshal([]byte(doc), a); err != nil {
		return nil, err
	}
	return a, a.Decode()
}

func (f federationStore) GetAgreement(ctx context.Context, id string) (*federation.Agreement, error) {
	a, err := scanAgreement(f.s.queryRow(ctx, `SELECT doc FROM federation_agreements WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, federation.ReasonNoAgreement, "no agreement %s at this hub (gxctl federation list)", id)
	}
	if err != nil {
		return nil, unavailable("read agreement", err)
	}
	return a, nil
}

func (f federationStore) ListAgreements(ctx context.Context) ([]*federation.Agreement, error) {
	return queryAll(ctx, f.s, "list agreements", scanAgreement, `SELECT doc FROM federation_agreements ORDER BY id`)
}

func (f federationStore) AgreementVersions(ctx context.Context, id string) ([]*federation.Agreement, error) {
	return queryAll(ctx, f.s, "list agreement versions", scanAgreement, `SELECT doc FROM federation_agreement_versions WHERE id = $1 ORDER BY version`, id)
}

func (f federationStore) PutRemoteRequirement(ctx context.Context, r *federation.RemoteRequirement) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if r.Version == 1 {
		if _, err := f.s.exec(ctx, `INSERT INTO federation_remote_requirements (id, home_hub, consumer, version, doc, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			r.ID, r.HomeHub, r.Consumer, r.Version, string(doc), r.UpdatedAt.UnixMicro()); err != nil {
			if f.s.d.IsUniqueViolation(err) {
				return exchange.Errorf(exchange.KindAlreadyExists, "REQUIREMENT_EXISTS", "remote requirement %s is already stored", r.ID)
			}
			return unavailable("store remote requirement", err)
		}
		return nil
	}
	res, err := f.s.exec(ctx, `UPDATE federation_remote_requirements SET version = $2, doc = $3, updated_at = $4 WHERE id = $1 AND version = $5`,
		r.ID, r.Version, string(doc), r.UpdatedAt.UnixMicro(), r.Version-1)
	if err != nil {
		return unavailable("update remote requirement", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return conflictErr("remote requirement", r.ID)
	}
	return nil
}

func scanJSON[T any](row interface{ Scan(...any) error }) (*T, error) {
	var doc string
	if err := row.Scan(&doc); err != nil {
		return nil, err
	}
	v := new(T)
	return v, json.Unmarshal([]byte(doc), v)
}

func (f federationStore) GetRemoteRequirement(ctx context.Context, id string) (*federation.RemoteRequirement, error) {
	r, err := scanJSON[federation.RemoteRequirement](f.s.queryRow(ctx, `SELECT doc FROM federation_remote_requirements WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.Errorf(exchange.KindNotFound, "REQUIREMENT_NOT_FOUND", "no remote requirement %s at this hub (gxctl federation requirements)", id)
	}
	if err != nil {
		return nil, unavailable("read remote requirement", err)
	}
	return r, nil
}

func (f federationStore) ListRemoteRequirements(ctx context.Context, consumer string) ([]*federation.RemoteRequirement, error) {
	if consumer == "" {
		return queryAll(ctx, f.s, "list remote requirements", scanJSON[federation.RemoteRequirement], `SELECT doc FROM federation_remote_requirements ORDER BY id`)
	}
	return queryAll(ctx, f.s, "list remote requirements", scanJSON[federation.RemoteRequirement], `SELECT doc FROM federation_remote_requirements WHERE consumer = $1 ORDER BY id`, consumer)
}

func (f federationStore) PutRemoteResources(ctx context.Context, hub string, changed []*federation.RemoteResource, offered []string) error {
	for _, r := range changed {
		doc, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := f.s.exec(ctx, `INSERT INTO federation_remote_resources (home_hub, code, doc) VALUES ($1, $2, $3)
ON CONFLICT (home_hub, code) DO UPDATE SET doc = excluded.doc`, hub, r.Resource.Code, string(doc)); err != nil {
			return unavailable("store remote resource", err)
		}
	}
	have, err := queryAll(ctx, f.s, "list remote resources", func(row interface{ Scan(...any) error }) (string, error) {
		var c string
		return c, row.Scan(&c)
	}, `SELECT code FROM federation_remote_resources WHERE home_hub = $1`, hub)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, c := range offered {
		keep[c] = true
	}
	for _, c := range have {
		if !keep[c] {
			if _, err := f.s.exec(ctx, `DELETE FROM federation_remote_resources WHERE home_hub = $1 AND code = $2`, hub, c); err != nil {
				return unavailable("drop remote resource", err)
			}
		}
	}
	return nil
}

func (f federationStore) ListRemoteResources(ctx context.Context, hub string) ([]*federation.RemoteResource, error) {
	if hub == "" {
		return queryAll(ctx, f.s, "list remote resources", scanJSON[federation.RemoteResource], `SELECT doc FROM federation_remote_resources ORDER BY home_hub, code`)
	}
	return queryAll(ctx, f.s, "list remote resources", scanJSON[federation.RemoteResource], `SELECT doc FROM federation_remote_resources WHERE home_hub = $1 ORDER BY code`, hub)
}
