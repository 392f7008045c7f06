package sdk

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// Reason returns the stable machine-readable reason of a hub error (google.rpc.ErrorInfo
// reason, e.g. "REQUEST_REPLAYED"), or "" when err carries none.
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// ErrorMeta returns the machine-readable details of a hub error (google.rpc.ErrorInfo
// metadata), e.g. "change": the 1-based position of the failing change of a publish
// batch; nil when there are none.
func ErrorMeta(err error) map[string]string {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()
		}
	}
	return nil
}
