package sdk

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	exchangev1 "github.com/gxhub/gxhub/sdk/api/exchange/v1"
)

// VerifyPullBatch checks a batch pull response signed by the hub and returns the signed
// result, exactly as VerifyPull does for one pull: the hub's SM2 signature (pull-response
// key, default user ID) over PullBatchResponse.payload as received, then the payload
// decoded. It also checks that the answer has one outcome per entry asked, in order, and
// one audit reference per entry. Each granted outcome's result is what a single pull of
// its subject would have signed (check its records with VerifyPulledRecord); a refused
// outcome names the reason a single pull would have been refused for.
func VerifyPullBatch(req *exchangev1.PullBatchRequest, resp *exchangev1.PullBatchResponse, hubKey *ecdsa.PublicKey) (*exchangev1.PullBatchResult, error) {
	if resp == nil || len(resp.GetPayload()) == 0 {
		return nil, errors.New("the batch pull response has no signed payload")
	}
	if hubKey == nil {
		return nil, errors.New("no hub key to verify with: fetch pull_key_pem from AuditService.GetLogInfo and keep it")
	}
	if err := sm.Verify(hubKey, resp.GetPayload(), resp.GetSignature()); err != nil {
		return nil, fmt.Errorf("the hub's signature over the batch pull result does not verify: %w", err)
	}
	var out exchangev1.PullBatchResult
	if err := proto.Unmarshal(resp.GetPayload(), &out); err != nil {
		return nil, fmt.Errorf("the signed batch pull payload does not decode: %w", err)
	}
	if req != nil {
		if len(out.GetEntries()) != len(req.GetEntries()) {
			return nil, fmt.Errorf("the batch pull answered %d entries, %d were asked", len(out.GetEntries()), len(req.GetEntries()))
		}
		for i, e := range req.GetEntries() {
			if !proto.Equal(e, out.GetEntries()[i].GetEntry()) {
				return nil, fmt.Errorf("outcome %d of the batch pull is for another entry than asked", i+1)
			}
		}
	}
	if len(resp.GetAuditReferences()) != len(out.GetEntries()) {
		return nil, fmt.Errorf("the batch pull names %d audit records for %d entries", len(resp.GetAuditReferences()), len(out.GetEntries()))
	}
	return &out, nil
}
