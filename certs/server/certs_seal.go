package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"strings"
	"time"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/certs/trust"
	"github.com/gxhub/gxhub/certs/verify"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/rpc"
	"github.com/gxhub/gxhub/exchange/store"
	"github.com/gxhub/gxhub/ledger"
	certsv1 "github.com/gxhub/gxhub/sdk/api/certs/v1"
	"github.com/gxhub/gxhub/sdk/api/convert"
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
func sealCaller(ctx context.Context, dept string) (*rpc.Caller, error) {
	c, err := rpc.RequireCaller(ctx)
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
	sum := hexSM3(der)
	if err := s.c.write(ctx, func(ctx context.Context) error { return s.c.Store.Certs().PutSeal(ctx, rec) }, func() ledger.Record {
		return ledger.Record{Kind: KindSealMake, Time: now, Department: caller.Department.Code, Resource: esid, Outcome: ledger.OutcomeOK, Reason: "for " + d.Code + ", sm3 " + sum}
	}); err != nil {
		return nil, err
	}
	return &certsv1.MakeSealResponse{Seal: SealToProto(rec)}, nil
}

// RevokeSeal revokes a seal.
func (s *SealService) RevokeSeal(ctx context.Context, req *certsv1.RevokeSealRequest) (*certsv1.RevokeSealResponse, error) {
	seal, err := s.c.Store.Certs().GetSeal(ctx, req.GetEsid())
	if err != nil {
		if _, cerr := rpc.RequireCaller(ctx); cerr != nil {
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
	if err := s.c.write(ctx, func(ctx context.Context) error {
		return s.c.Store.Certs().RevokeSeal(ctx, seal.ESID, now, strings.TrimSpace(req.GetReason()))
	}, func() ledger.Record {
		return ledger.Record{Kind: KindSealRevoke, Time: now, Department: caller.Department.Code, Resource: seal.ESID, Outcome: ledger.OutcomeOK, Reason: req.GetReason()}
	}); err != nil {
		return nil, err
	}
	seal, err = s.c.Store.Certs().GetSeal(ctx, seal.ESID)
	if err != nil {
		return nil, err
	}
	return &certsv1.RevokeSealResponse{Seal: SealToProto(seal)}, nil
}

// ListSeals lists a department's seals.
func (s *SealService) ListSeals(ctx context.Context, req *certsv1.ListSealsRequest) (*certsv1.ListSealsResponse, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
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

// Audit kind of sealed-document registration.
const KindDocumentSeal ledger.Kind = "document.seal"

// Timestamp asks the hub's TSA for a token over a signature value.
func (s *SealService) Timestamp(ctx context.Context, req *certsv1.TimestampRequest) (*certsv1.TimestampResponse, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
		return nil, err
	}
	if s.c.TSA == "" {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "TSA_UNAVAILABLE", "this hub has no time-stamping authority configured (verify.tsa_url): seal without a timestamp")
	}
	v := req.GetSignatureValue()
	if len(v) == 0 || len(v) > 1024 {
		return nil, exchange.Errorf(exchange.KindInvalid, "SIGNATURE_VALUE_INVALID", "signature_value must be the 1..1024-byte value of the signature being made")
	}
	tok, ts, err := trust.RequestTimestamp(ctx, s.c.HTTP, s.c.TSA, v)
	if err != nil {
		return nil, exchange.Wrap(exchange.KindUnavailable, "TSA_FAILED", err, "the time-stamping authority: %v", err)
	}
	return &certsv1.TimestampResponse{Token: tok, GenTime: certTS(ts.Info.GenTime), Tsa: ts.TSA.Subject.String()}, nil
}

// SealedDocumentToProto converts a sealed document.
func SealedDocumentToProto(d *store.SealedDocument) *certsv1.SealedDocument {
	return &certsv1.SealedDocument{Sm3: d.SM3, Name: d.Name, DepartmentCode: d.Department, Esid: d.ESID, SignedAt: certTS(d.SignedAt),
		RegisteredAt: certTS(d.RegisteredAt), Signatures: int32(d.Signatures), EcertIdentifier: d.ECertIdentifier, Size: d.Size, Content: d.Content}
}

// RegisterSealedDocument verifies a document the caller sealed and keeps it as evidence.
func (s *SealService) RegisterSealedDocument(ctx context.Context, req *certsv1.RegisterSealedDocumentRequest) (*certsv1.RegisterSealedDocumentResponse, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	content := req.GetContent()
	if len(content) == 0 {
		return nil, exchange.Errorf(exchange.KindInvalid, "INPUT_EMPTY", "content is empty: send the sealed OFD")
	}
	release, err := s.c.Gate.Enter(ctx)
	if err != nil {
		return nil, exchange.Wrap(exchange.KindUnavailable, "VERIFY_BUSY", err, "%v", err)
	}
	defer release()
	name := strings.TrimSpace(req.GetName())
	rep, err := verify.Verify(ctx, content, s.c.verifyOptions(s.c.Trust.Roots(), false, nil, name))
	if err != nil || rep.Kind != verify.KindOFD {
		return nil, exchange.Errorf(exchange.KindInvalid, "INPUT_UNRECOGNISED", "%s is not an OFD package: register sealed OFD documents", name)
	}
	doc, err := s.c.sealedBy(ctx, caller, rep)
	if err != nil {
		return nil, err
	}
	sum := sm.Sum(content)
	doc.SM3, doc.Name, doc.Size, doc.Content = hex.EncodeToString(sum[:]), name, int64(len(content)), content
	doc.RegisteredAt = s.c.now().UTC()
	if err := s.c.write(ctx, func(ctx context.Context) error { return s.c.Store.Certs().PutSealedDocument(ctx, doc) }, func() ledger.Record {
		return sealedRecord(caller, doc, rep)
	}); err != nil {
		return nil, err
	}
	doc.Content = nil
	return &certsv1.RegisterSealedDocumentResponse{Document: SealedDocumentToProto(doc), Report: convert.ReportToProto(rep, doc.SM3)}, nil
}

// sealedRecord is the audit record of a document registration.
func sealedRecord(caller *rpc.Caller, d *store.SealedDocument, rep *verify.Report) ledger.Record {
	digest, _ := hex.DecodeString(d.SM3)
	return ledger.Record{Kind: KindDocumentSeal, Time: d.RegisteredAt, Department: caller.Department.Code, Resource: "sm3:" + d.SM3,
		Outcome: ledger.OutcomeOK, Reason: fmt.Sprintf("%s sealed with %s (%d signature(s)) %s", d.Name, d.ESID, d.Signatures, rep.Verdict), ResponseDigest: digest}
}

// sealedBy checks that a verified document may be registered by caller: VALID, and its
// newest signature made with an active hub-made seal of the caller and the caller's
// registered certificate. It returns the document's description.
func (c *Certs) sealedBy(ctx context.Context, caller *rpc.Caller, rep *verify.Report) (*store.SealedDocument, error) {
	if rep.Verdict != verify.Valid {
		return nil, exchange.Errorf(exchange.KindFailedPrecondition, "DOCUMENT_NOT_VALID", "the document verifies %s, not VALID, with the hub's trust store: %s", rep.Verdict, rep.Summary)
	}
	var last *verify.Signed
	n := 0
	d := &store.SealedDocument{Department: caller.Department.Code}
	for i := range rep.Signed {
		sg := &rep.Signed[i]
		switch sg.Type {
		case "Seal", "Sign":
			n++
			last = sg
		case "ecert":
			d.ECertIdentifier = sg.SealID
		}
	}
	if last == nil || last.Type != "Seal" {
		return nil, exchange.Errorf(exchange.KindInvalid, "DOCUMENT_NOT_SEALED", "the document's newest signature is not a seal signature")
	}
	seal, err := c.Store.Certs().GetSeal(ctx, last.SealID)
	if err != nil {
		return nil, err
	}
	if seal.Department != caller.Department.Code {
		return nil, exchange.Errorf(exchange.KindPermissionDenied, "SEAL_NOT_YOURS", "the newest signature uses seal %s of department %s: a department registers only documents it sealed itself", seal.ESID, seal.Department)
	}
	d.ESID, d.SignedAt, d.Signatures = seal.ESID, last.SigningTime, n
	return d, nil
}

// GetSealedDocument returns a registered document with its content.
func (s *SealService) GetSealedDocument(ctx context.Context, req *certsv1.GetSealedDocumentRequest) (*certsv1.SealedDocument, error) {
	caller, err := rpc.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.c.Store.Certs().GetSealedDocument(ctx, strings.ToLower(strings.TrimSpace(req.GetSm3())))
	if err != nil {
		return nil, err
	}
	// The document's content may name persons: the read is audited before it is answered.
	if _, err := rpc.AuditRecord(ctx, s.c.Audit, ledger.Record{Kind: KindSealedDocumentRead, Time: s.c.now(), Department: caller.Department.Code,
		Resource: "sm3:" + d.SM3, Outcome: ledger.OutcomeOK, Reason: "read sealed document " + d.Name + " of " + d.Department}); err != nil {
		return nil, err
	}
	return SealedDocumentToProto(d), nil
}

// ListSealedDocuments lists a department's registered documents.
func (s *SealService) ListSealedDocuments(ctx context.Context, req *certsv1.ListSealedDocumentsRequest) (*certsv1.ListSealedDocumentsResponse, error) {
	if _, err := rpc.RequireCaller(ctx); err != nil {
		return nil, err
	}
	list, err := s.c.Store.Certs().ListSealedDocuments(ctx, req.GetDepartmentCode())
	if err != nil {
		return nil, err
	}
	resp := &certsv1.ListSealedDocumentsResponse{}
	for _, d := range list {
		resp.Documents = append(resp.Documents, SealedDocumentToProto(d))
	}
	return resp, nil
}
