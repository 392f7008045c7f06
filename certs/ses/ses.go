// Package ses models the electronic-seal (电子印章) and electronic-signature (电子签章)
// structures of GM/T 0031-2014 ("V1"), GB/T 38540-2020 ("V4") and the ofdrw "V5" layout
// (V4 plus an optional [0] timestamp on the seal).
//
// Parsers never panic on hostile input and keep the original bytes of every signed part, so
// signatures are checked over the bytes that were received, not over a re-encoding:
//
//   - the seal maker's signature covers DER(SEQUENCE{sealInfo, cert, signatureAlgorithm}) in
//     V1 and DER(SES_SealInfo) in V4/V5 (Seal.MakerMessage returns the right bytes);
//   - the outer SES_Signature covers DER(TBS_Sign) in every version (Signature.TBSRaw).
//
// Vendor deviations that real files carry are accepted and recorded: certList entries that are
// IA5Strings instead of certificates, timeInfo as a BIT STRING holding text, UTCTime instead of
// GeneralizedTime, raw 64-byte r‖s signature values, untagged optional fields.
//
// MakeSealV4 and SignV4 produce GB/T 38540 structures (DER, SM2 with the default user ID).
package ses

import (
	"encoding/asn1"
	"time"
)

// Structure versions as detected from the layout (see Seal.Version).
const (
	V1 = 1 // GM/T 0031-2014: SESeal{sealInfo, signInfo}
	V4 = 4 // GB/T 38540-2020: SESeal{sealInfo, cert, signAlgID, signedValue}
	V5 = 5 // ofdrw "GM/T 0031-2025": V4 plus [0] timeStamp
)

// Certificate-list types of SES_ESPropertyInfo.certListType (V4).
const (
	CertListCerts   = 1 // SEQUENCE OF OCTET STRING (DER certificates)
	CertListDigests = 2 // SEQUENCE OF CertDigestObj
)

var (
	// OIDSM2WithSM3 is the SM2-with-SM3 signature algorithm (1.2.156.10197.1.501).
	OIDSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	// OIDSM3 is the SM3 hash algorithm (1.2.156.10197.1.401).
	OIDSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
)

// Header is SES_Header.
type Header struct {
	ID      string // always "ES"
	Version int64  // 1 (0031), 2 (some 0031 vendors), 4 (38540), 5 (ofdrw V5)
	VID     string // vendor id
}

// Picture is SES_ESPictrueInfo (the standard's spelling).
type Picture struct {
	Type   string // "PNG", "GIF", "ofd", ...
	Data   []byte
	Width  int64 // millimetres
	Height int64 // millimetres
}

// ExtData is one ExtensionDatas entry.
type ExtData struct {
	ID       asn1.ObjectIdentifier
	Critical bool
	Value    []byte
}

// CertDigest is CertDigestObj: a hash algorithm name and the digest of a signer certificate.
type CertDigest struct {
	Type  string // hash algorithm name, e.g. "SM3"
	Value []byte
}

// Property is SES_ESPropertyInfo.
type Property struct {
	Type         int64
	Name         string
	CertListType int64 // V4/V5 only; 0 in V1
	// Certs holds the DER certificates of certList (OCTET STRING entries).
	Certs [][]byte
	// Digests holds certDigestList entries (certListType 2).
	Digests []CertDigest
	// CertIDs holds non-conformant string entries (dms360 puts IA5String "1" there).
	CertIDs []string

	CreateDate time.Time
	ValidStart time.Time
	ValidEnd   time.Time
}

// SealInfo is SES_SealInfo.
type SealInfo struct {
	Raw      []byte // received DER of SES_SealInfo
	Header   Header
	ESID     string
	Property Property
	Picture  Picture
	ExtDatas []ExtData
}

// Seal is SESeal in any of the supported versions.
type Seal struct {
	Raw     []byte // received DER of SESeal
	Version int    // V1, V4 or V5 (layout); Info.Header.Version is the declared number
	Info    SealInfo

	MakerCert   []byte                // DER of the maker (制章人) certificate
	SignAlg     asn1.ObjectIdentifier // maker signature algorithm
	SignedValue []byte                // maker signature value (DER or raw r‖s)
	TimeStamp   []byte                // V5 [0] timeStamp content, if present

	makerMsg []byte
}

// MakerMessage returns the exact bytes the maker signature covers, built from received bytes:
// V1: DER(SEQUENCE{sealInfo, cert OCTET STRING, algID}); V4/V5: DER(SES_SealInfo).
func (s *Seal) MakerMessage() []byte { return s.makerMsg }

// MakerMessageDescription names the to-be-signed form for reports.
func (s *Seal) MakerMessageDescription() string {
	if s.Version == V1 {
		return "DER(SEQUENCE{sealInfo, cert, signatureAlgorithm}) (V1)"
	}
	if s.Version == V5 {
		return "DER(SES_SealInfo) (V5)"
	}
	return "DER(SES_SealInfo) (V4)"
}

// TimeInfoKind says how a TBS_Sign.timeInfo was encoded.
type TimeInfoKind string

// TimeInfo encodings seen in real files.
const (
	TimeGeneralized TimeInfoKind = "GeneralizedTime"
	TimeUTC         TimeInfoKind = "UTCTime"
	TimeBitString   TimeInfoKind = "BIT STRING text"
	TimeOther       TimeInfoKind = "string text"
)

// Signature is SES_Signature (V1 or V4/V5) with its TBS_Sign.
type Signature struct {
	Raw     []byte // received DER of SES_Signature
	Version int    // V1 or V4 (layout); TBSVersion is the declared number
	TBSRaw  []byte // received DER of TBS_Sign: the outer signature covers exactly these bytes

	TBSVersion   int64
	Seal         *Seal
	TimeInfo     time.Time
	TimeInfoKind TimeInfoKind
	TimeInfoText string // the text as received (for BIT STRING / string forms)
	DataHash     []byte
	PropertyInfo string
	ExtDatas     []ExtData

	Cert      []byte                // signer certificate DER (V1: inside TBS_Sign)
	SignAlg   asn1.ObjectIdentifier // outer signature algorithm
	Value     []byte                // outer signature value (DER or raw r‖s)
	TimeStamp []byte                // timeStamp content, if present
}
