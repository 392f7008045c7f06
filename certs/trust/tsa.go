package trust

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"

	"github.com/gxhub/gxhub/certs/ses"
	"github.com/gxhub/gxhub/certs/sm"
)

// TimeStampReq is the RFC 3161 request.
type TimeStampReq struct {
	Version        int
	MessageImprint ses.MessageImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional,default:false"`
}

// PKIStatusInfo is the RFC 3161 / RFC 4210 status of an answer.
type PKIStatusInfo struct {
	Status       int
	StatusString []string       `asn1:"optional,utf8"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

// TimeStampResp is the RFC 3161 answer.
type TimeStampResp struct {
	Status         PKIStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// NewTimeStampReq makes a request for a token over SM3(covered) with a random nonce and the
// TSA certificate included.
func NewTimeStampReq(covered []byte) (*TimeStampReq, []byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, nil, err
	}
	d := sm.Sum(covered)
	req := &TimeStampReq{Version: 1, MessageImprint: ses.MessageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: ses.OIDSM3}, HashedMessage: d[:]},
		Nonce: nonce, CertReq: true}
	der, err := asn1.Marshal(*req)
	return req, der, err
}

// RequestTimestamp asks the RFC 3161 (GB/T 20520) TSA at url for a token over covered (an
// SES or CMS signature value) and checks the answer: granted, a token whose signature
// verifies, whose messageImprint is SM3(covered) and whose nonce is ours. The TSA's chain
// is checked by whoever verifies the signature later, at the token's genTime.
func RequestTimestamp(ctx context.Context, client *http.Client, url string, covered []byte) ([]byte, *ses.TimeStamp, error) {
	req, der, err := NewTimeStampReq(covered)
	if err != nil {
		return nil, nil, err
	}
	body, err := post(ctx, client, url, "application/timestamp-query", "application/timestamp-reply", der)
	if err != nil {
		return nil, nil, err
	}
	var resp TimeStampResp
	if rest, err := asn1.Unmarshal(body, &resp); err != nil || len(rest) != 0 {
		return nil, nil, fmt.Errorf("the TSA at %s did not answer with an RFC 3161 TimeStampResp: %v", url, err)
	}
	if s := resp.Status.Status; s != 0 && s != 1 {
		return nil, nil, fmt.Errorf("the TSA at %s refused the request: status %d %v", url, s, resp.Status.StatusString)
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, nil, fmt.Errorf("the TSA at %s granted the request but sent no token", url)
	}
	tok := resp.TimeStampToken.FullBytes
	ts, err := ses.VerifyTimeStamp(tok, covered)
	if err != nil {
		return nil, nil, fmt.Errorf("the TSA's token: %w", err)
	}
	if ts.Info.Nonce == nil || ts.Info.Nonce.Cmp(req.Nonce) != 0 {
		return nil, nil, errors.New("the TSA's token does not carry our nonce: it answers another request")
	}
	return bytes.Clone(tok), ts, nil
}
