package ses

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gxhub/gxhub/certs/sm"
)

// SealSpec describes a GB/T 38540 V4 seal to make.
type SealSpec struct {
	VendorID string // header.vid, e.g. "GXHUB"
	ESID     string // seal identifier (esID)
	Type     int64  // seal type (e.g. 1 official seal, 2 special-purpose seal)
	Name     string // seal name, e.g. "某某局电子证照专用章"
	// SignerCerts are the DER certificates allowed to sign with this seal.
	SignerCerts [][]byte
	// UseDigests writes certListType 2 (SM3 digests of SignerCerts) instead of the certificates.
	UseDigests bool
	Created    time.Time
	ValidStart time.Time
	ValidEnd   time.Time
	Picture    Picture
	ExtDatas   []ExtData
}

func (s *SealSpec) check() error {
	switch {
	case s.ESID == "":
		return errors.New("seal spec: esID is empty")
	case s.Name == "":
		return errors.New("seal spec: name is empty")
	case len(s.SignerCerts) == 0:
		return errors.New("seal spec: at least one signer certificate is required")
	case s.ValidStart.IsZero() || s.ValidEnd.IsZero() || !s.ValidEnd.After(s.ValidStart):
		return errors.New("seal spec: validStart and validEnd must be set and validEnd after validStart")
	case s.Picture.Type == "" || len(s.Picture.Data) == 0:
		return errors.New("seal spec: picture type and data are required")
	}
	for i, c := range s.SignerCerts {
		if _, err := ParseCertificate(c); err != nil {
			return fmt.Errorf("seal spec: signer certificate %d: %w", i, err)
		}
	}
	return nil
}

func addGeneralizedTime(b *cryptobyte.Builder, t time.Time) {
	b.AddASN1(cbasn1.GeneralizedTime, func(c *cryptobyte.Builder) {
		c.AddBytes([]byte(t.UTC().Format("20060102150405Z")))
	})
}

func addString(b *cryptobyte.Builder, tag cbasn1.Tag, s string) {
	b.AddASN1(tag, func(c *cryptobyte.Builder) { c.AddBytes([]byte(s)) })
}

func addBitString(b *cryptobyte.Builder, v []byte) {
	b.AddASN1(cbasn1.BIT_STRING, func(c *cryptobyte.Builder) {
		c.AddUint8(0)
		c.AddBytes(v)
	})
}

func addExtDatas(b *cryptobyte.Builder, exts []ExtData) {
	b.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		for _, e := range exts {
			c.AddASN1(cbasn1.SEQUENCE, func(d *cryptobyte.Builder) {
				d.AddASN1ObjectIdentifier(e.ID)
				if e.Critical {
					d.AddASN1Boolean(true)
				}
				d.AddASN1OctetString(e.Value)
			})
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// MakeSealV4 builds a GB/T 38540 V4 SESeal and signs DER(SES_SealInfo) with the maker key
// (SM2, default user ID). makerCert is the maker's DER certificate; it must hold makerKey's
// public key. It returns the DER seal.
func MakeSealV4(spec SealSpec, makerKey *sm.PrivateKey, makerCert []byte) ([]byte, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if !isASCII(spec.VendorID) || !isASCII(spec.ESID) || !isASCII(spec.Picture.Type) {
		return nil, errors.New("seal spec: vendor id, esID and picture type must be ASCII (IA5String)")
	}
	mc, err := ParseCertificate(makerCert)
	if err != nil {
		return nil, fmt.Errorf("maker certificate: %w", err)
	}
	if makerKey == nil || !mc.PublicKey.Equal(&makerKey.PublicKey) {
		return nil, errors.New("maker certificate does not hold the maker key's public key")
	}
	created := spec.Created
	if created.IsZero() {
		created = time.Now()
	}
	var ib cryptobyte.Builder
	ib.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(h *cryptobyte.Builder) {
			addString(h, tagIA5String, "ES")
			h.AddASN1Int64(V4)
			addString(h, tagIA5String, spec.VendorID)
		})
		addString(b, tagIA5String, spec.ESID)
		b.AddASN1(cbasn1.SEQUENCE, func(p *cryptobyte.Builder) {
			p.AddASN1Int64(spec.Type)
			addString(p, tagUTF8String, spec.Name)
			if spec.UseDigests {
				p.AddASN1Int64(CertListDigests)
				p.AddASN1(cbasn1.SEQUENCE, func(l *cryptobyte.Builder) {
					for _, c := range spec.SignerCerts {
						d := sm.Sum(c)
						l.AddASN1(cbasn1.SEQUENCE, func(o *cryptobyte.Builder) {
							addString(o, tagPrintableString, "SM3")
							o.AddASN1OctetString(d[:])
						})
					}
				})
			} else {
				p.AddASN1Int64(CertListCerts)
				p.AddASN1(cbasn1.SEQUENCE, func(l *cryptobyte.Builder) {
					for _, c := range spec.SignerCerts {
						l.AddASN1OctetString(c)
					}
				})
			}
			addGeneralizedTime(p, created)
			addGeneralizedTime(p, spec.ValidStart)
			addGeneralizedTime(p, spec.ValidEnd)
		})
		b.AddASN1(cbasn1.SEQUENCE, func(p *cryptobyte.Builder) {
			addString(p, tagIA5String, spec.Picture.Type)
			p.AddASN1OctetString(spec.Picture.Data)
			p.AddASN1Int64(spec.Picture.Width)
			p.AddASN1Int64(spec.Picture.Height)
		})
		if len(spec.ExtDatas) > 0 {
			addExtDatas(b, spec.ExtDatas)
		}
	})
	info, err := ib.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode SES_SealInfo: %w", err)
	}
	sig, err := sm.Sign(makerKey, info)
	if err != nil {
		return nil, fmt.Errorf("maker signature: %w", err)
	}
	var sb cryptobyte.Builder
	sb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(info)
		b.AddASN1OctetString(makerCert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
		addBitString(b, sig)
	})
	return sb.Bytes()
}

// SignRequest describes an SES_Signature V4 to make over a document.
type SignRequest struct {
	Seal []byte         // DER of a V4 or V5 SESeal
	Key  *sm.PrivateKey // signer key
	Cert []byte         // signer DER certificate; must be in the seal's certificate list
	Data []byte         // the signed data (in OFD: the Signature.xml bytes); dataHash = SM3(Data)
	// PropertyInfo names the signed original (in OFD: the Signature.xml path).
	PropertyInfo string
	Time         time.Time // signing time (timeInfo); zero means now
	// TimeStamper, when set, is called with the signature value and returns the timestamp
	// token (e.g. an RFC 3161 TimeStampToken over it) placed in [0] timeStamp.
	TimeStamper func(signature []byte) ([]byte, error)
}

// SignV4 makes a GB/T 38540 SES_Signature: TBS_Sign{version 4, eseal, timeInfo, dataHash =
// SM3(Data), propertyInfo} signed with SM2 (default user ID) over DER(TBS_Sign).
func SignV4(req SignRequest) ([]byte, error) {
	seal, err := ParseSeal(req.Seal)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if seal.Version == V1 {
		return nil, errors.New("a V1 (GM/T 0031-2014) seal cannot be used in a V4 signature; make a V4 seal")
	}
	sc, err := ParseCertificate(req.Cert)
	if err != nil {
		return nil, fmt.Errorf("signer certificate: %w", err)
	}
	if req.Key == nil || !sc.PublicKey.Equal(&req.Key.PublicKey) {
		return nil, errors.New("signer certificate does not hold the signer key's public key")
	}
	if ok, _ := seal.ListsCert(req.Cert); !ok {
		return nil, errors.New("the signer certificate is not in the seal's certificate list; make the seal for this signer")
	}
	if !isASCII(req.PropertyInfo) {
		return nil, errors.New("propertyInfo must be ASCII (IA5String)")
	}
	at := req.Time
	if at.IsZero() {
		at = time.Now()
	}
	digest := sm.Sum(req.Data)
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(V4)
		b.AddBytes(seal.Raw)
		addGeneralizedTime(b, at)
		addBitString(b, digest[:])
		addString(b, tagIA5String, req.PropertyInfo)
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode TBS_Sign: %w", err)
	}
	sig, err := sm.Sign(req.Key, tbs)
	if err != nil {
		return nil, fmt.Errorf("sign TBS_Sign: %w", err)
	}
	var ts []byte
	if req.TimeStamper != nil {
		if ts, err = req.TimeStamper(sig); err != nil {
			return nil, fmt.Errorf("timestamp: %w", err)
		}
	}
	var ob cryptobyte.Builder
	ob.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1OctetString(req.Cert)
		b.AddASN1ObjectIdentifier(OIDSM2WithSM3)
		addBitString(b, sig)
		if ts != nil {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(t *cryptobyte.Builder) {
				addBitString(t, ts)
			})
		}
	})
	return ob.Bytes()
}

// ListsCert reports whether the DER certificate is in the seal's certificate list, either as
// a certificate (byte-equal) or as a CertDigestObj digest; how says which matched.
func (s *Seal) ListsCert(cert []byte) (ok bool, how string) {
	p := s.Info.Property
	for _, c := range p.Certs {
		if string(c) == string(cert) {
			return true, "certificate listed in certList"
		}
	}
	for _, d := range p.Digests {
		if sum, name := digestByName(d.Type, cert); sum != nil && string(sum) == string(d.Value) {
			return true, name + " digest listed in certDigestList"
		}
	}
	return false, ""
}

// digestByName hashes data with the algorithm a CertDigestObj names (SM3 or SHA-256).
func digestByName(name string, data []byte) ([]byte, string) {
	switch name {
	case "SM3", "sm3", "1.2.156.10197.1.401":
		d := sm.Sum(data)
		return d[:], "SM3"
	case "SHA256", "SHA-256", "sha256", "2.16.840.1.101.3.4.2.1":
		d := sha256Sum(data)
		return d[:], "SHA-256"
	}
	return nil, ""
}

// VerifyMaker checks the maker signature over the version-specific message with the maker
// certificate's key. It returns the parsed maker certificate.
func (s *Seal) VerifyMaker() (*Certificate, error) {
	mc, err := ParseCertificate(s.MakerCert)
	if err != nil {
		return nil, fmt.Errorf("maker certificate: %w", err)
	}
	if !s.SignAlg.Equal(OIDSM2WithSM3) {
		return mc, fmt.Errorf("maker signature algorithm %s is not SM2-with-SM3 (%s)", s.SignAlg, OIDSM2WithSM3)
	}
	if err := sm.Verify(mc.PublicKey, s.makerMsg, s.SignedValue); err != nil {
		return mc, fmt.Errorf("maker signature over %s: %w", s.MakerMessageDescription(), err)
	}
	return mc, nil
}

// VerifyOuter checks the outer signature over the received DER(TBS_Sign) with the signer
// certificate's key (DER or raw r‖s value). It returns the parsed signer certificate.
func (s *Signature) VerifyOuter() (*Certificate, error) {
	sc, err := ParseCertificate(s.Cert)
	if err != nil {
		return nil, fmt.Errorf("signer certificate: %w", err)
	}
	if !s.SignAlg.Equal(OIDSM2WithSM3) {
		return sc, fmt.Errorf("signature algorithm %s is not SM2-with-SM3 (%s)", s.SignAlg, OIDSM2WithSM3)
	}
	if err := sm.Verify(sc.PublicKey, s.TBSRaw, s.Value); err != nil {
		return sc, fmt.Errorf("signature over DER(TBS_Sign): %w", err)
	}
	return sc, nil
}

// ValueEncoding says whether a signature value is DER SEQUENCE{r,s} or raw 64-byte r‖s.
func ValueEncoding(v []byte) string {
	var rs struct{ R, S asn1.RawValue }
	if rest, err := asn1.Unmarshal(v, &rs); err == nil && len(rest) == 0 {
		return "DER"
	}
	if len(v) == sm.RawSignatureSize {
		return "raw r‖s"
	}
	return "unknown"
}

// DiagnoseOuter explains a failed outer signature when it matches a known non-conformant
// vendor form; it returns "" otherwise. It never makes such a signature acceptable: the
// forms it recognises do not cover TBS_Sign (time, seal, propertyInfo stay unsigned).
func (s *Signature) DiagnoseOuter() string {
	sc, err := ParseCertificate(s.Cert)
	if err != nil || len(s.DataHash) != 32 {
		return ""
	}
	der := s.Value
	if ValueEncoding(der) == "raw r‖s" {
		if der, err = sm.RawToDER(der); err != nil {
			return ""
		}
	}
	if sm.VerifyDigestDER(sc.PublicKey, s.DataHash, der) {
		return "the value is an SM2 signature over dataHash taken as the digest (no Z, no TBS_Sign): timeInfo, the seal and propertyInfo are not signed (non-conformant vendor form, seen from dms360.cn)"
	}
	return ""
}
