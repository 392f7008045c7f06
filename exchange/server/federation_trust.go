package server

import (
	"context"

	"github.com/gxhub/gxhub/exchange/federation"
)

// TrustReloader is the verifier's trust store, reloaded after an agreement changes: the
// roots of hubs with a usable agreement are anchors while it lasts
// (certs/server.TrustStore, federation_anchors.go).
type TrustReloader interface {
	Reload(ctx context.Context) error
}

// agreementChanged reloads the verifier's trust after an agreement changed state.
func (f *Federation) agreementChanged(ctx context.Context, a *federation.Agreement) {
	if f.Trust == nil {
		return
	}
	if err := f.Trust.Reload(ctx); err != nil {
		f.Log.Warn("reload trust after an agreement change", "agreement", a.Terms.ID, "error", err.Error())
	}
}
