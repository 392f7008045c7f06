package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
)

// SealService implements gxhub.certs.v1.SealService: the hub's seal maker makes GB/T 38540
// V4 seals that list the department's registered signing certificate.
type SealService struct {
	certsv1.UnimplementedSealServiceServer
	c *Certs
}

// SealToProto converts a seal.
func SealToProto(s *store.Seal) *certsv1.Seal {
	st := "active"
	if !s.RevokedAt.IsZero() {
		st = "revoked"
	}
	return &certsv1.Seal{Esid: s.ESID, DepartmentCode: s.Department, Name: s.Name, Der: s.DER, Status: st, MadeAt: certTS(s.MadeAt),
		ValidTo: certTS(s.ValidTo), RevokedAt: certTS(s.RevokedAt), RevokeReason: s.RevokeReason}
}

// sealCaller allows a coordinator for any department and an issuer for itself.
func sealCaller(ctx context.Context, dept string) (*Caller, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Department.HasRole(exchange.RoleCoordinator) || (c.Department.HasRole(exchange.RoleIssuer) && c.Department.Code == dept) {
		return c, nil
	}
	return nil, exchange.Errorf(exchange.KindPermissionDenied, "ROLE_REQUIRED", "department %s may not manage the seals of %s: a coordinator may for any department, an issuer for itself", c.Department.Code, dept)
}

// MakeSeal makes a seal for a department.
func (s *SealService) MakeSeal(ctx context.Context, req *certsv1.MakeSealRequest) (*certsv1.MakeSealResponse, error) {
	caller, err := sealCaller(ctx, req.GetDepartmentCode())
	if err != nil {
		return nil, err
	}
	if s.c.Maker == nil {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "SEAL_MAKER_UNAVAILABLE", "this hub has no seal-maker certificate configured")
	}
	d, err := s.c.Store.Departments().Get(ctx, req.GetDepartmentCode())
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.GetName())
	if name == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "SEAL_NAME_MISSING", "name is required, e.g. %s电子证照专用章", d.Name)
	}
	typ := int64(req.GetType())
	if typ == 0 {
		typ = 2
	}
	if typ < 1 || typ > 99 {
		return nil, exchange.Errorf(exchange.KindInvalid, "SEAL_TYPE_INVALID", "type must be 1..99 (1 official seal, 2 special-purpose seal)")
	}
	days := int(req.GetValidDays())
	if days == 0 {
		days = 365
	}
	if days < 1 || days > 3650 {
		return nil, exchange.Errorf(exchange.KindInvalid, "SEAL_VALIDITY_INVALID", "valid_days must be 1..3650")
	}
	pic := ses.Picture{Type: strings.ToUpper(req.GetPictureType()), Data: req.GetPicture(), Width: 40, Height: 40}
	if len(pic.Data) == 0 {
		if pic.Data, err = defaultSealPicture(); err != nil {
			return nil, err
		}
		pic.Type = "PNG"
	} else if pic.Type == "" {
		return nil, exchange.Errorf(exchange.KindInvalid, "SEAL_PICTURE_TYPE_MISSING", "picture_type (png, jpg, ofd) is required with picture")
	}
	now := s.c.now().UTC().Truncate(time.Second)
	esid, err := newESID(d.Region)
	if err != nil {
		return nil, err
	}
	end := now.AddDate(0, 0, days)
	if end.After(s.c.Maker.Cert.NotAfter) {
		end = s.c.Maker.Cert.NotAfter
	}
	der, err := ses.MakeSealV4(ses.SealSpec{VendorID: "GXHUB", ESID: esid, Type: typ, Name: name, SignerCerts: [][]byte{d.Certificate},
		Created: now, ValidStart: now, ValidEnd: end, Picture: pic}, s.c.Maker.Key, s.c.Maker.Cert.Raw)
	if err != nil {
		return nil, exchange.Wrap(exchange.KindInvalid, "SEAL_INVALID", err, "make seal: %v", err)
	}
	rec := &store.Seal{ESID: esid, Department: d.Code, Name: name, DER: der, MadeAt: now, ValidTo: end}
	if err := s.c.Store.Certs().PutSeal(ctx, rec); err != nil {
		return nil, err
	}
	sum := hexSM3(der)
	s.c.audit(ctx, ledger.Record{Kind: KindSealMake, Time: now, Department: caller.Department.Code, Resource: esid, Outcome: ledger.OutcomeOK, Reason: "for " + d.Code + ", sm3 " + sum})
	return &certsv1.MakeSealResponse{Seal: SealToProto(rec)}, nil
}

// RevokeSeal revokes a seal.
func (s *SealService) RevokeSeal(ctx context.Context, req *certsv1.RevokeSealRequest) (*certsv1.RevokeSealResponse, error) {
	seal, err := s.c.Store.Certs().GetSeal(ctx, req.GetEsid())
	if err != nil {
		if _, cerr := RequireCaller(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	caller, err := sealCaller(ctx, seal.Department)
	if err != nil {
		return nil, err
	}
	now := s.c.now()
	if err := exchange.CheckText("reason", req.GetReason(), exchange.MaxText); err != nil {
		return nil, err
	}
	if err := s.c.Store.Certs().RevokeSeal(ctx, seal.ESID, now, strings.TrimSpace(req.GetReason())); err != nil {
		return nil, err
	}
	s.c.audit(ctx, ledger.Record{Kind: KindSealRevoke, Time: now, Department: caller.Department.Code, Resource: seal.ESID, Outcome: ledger.OutcomeOK, Reason: req.GetReason()})
	seal, err = s.c.Store.Certs().GetSeal(ctx, seal.ESID)
	if err != nil {
		return nil, err
	}
	return &certsv1.RevokeSealResponse{Seal: SealToProto(seal)}, nil
}

// ListSeals lists a department's seals.
func (s *SealService) ListSeals(ctx context.Context, req *certsv1.ListSealsRequest) (*certsv1.ListSealsResponse, error) {
	if _, err := RequireCaller(ctx); err != nil {
		return nil, err
	}
	list, err := s.c.Store.Certs().ListSeals(ctx, req.GetDepartmentCode())
	if err != nil {
		return nil, err
	}
	resp := &certsv1.ListSealsResponse{}
	for _, x := range list {
		resp.Seals = append(resp.Seals, SealToProto(x))
	}
	return resp, nil
}

// newESID makes a 14-digit seal identifier: the 6-digit region and 8 random digits.
func newESID(region string) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100000000))
	if err != nil {
		return "", err
	}
	if len(region) != 6 {
		region = "000000"
	}
	return fmt.Sprintf("%s%08d", region, n.Int64()), nil
}

// defaultSealPicture draws a plain red ring (used when no picture is given).
func defaultSealPicture() ([]byte, error) {
	const size = 96
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	red := color.NRGBA{R: 0xd0, A: 0xff}
	c := float64(size-1) / 2
	for y := range size {
		for x := range size {
			dx, dy := float64(x)-c, float64(y)-c
			if d := dx*dx + dy*dy; d <= c*c && d >= (c-6)*(c-6) {
				img.Set(x, y, red)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
