package hub

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gxhub/gxhub/certs/pki"
	"github.com/gxhub/gxhub/exchange"
	"github.com/gxhub/gxhub/exchange/federation"
	"github.com/gxhub/gxhub/exchange/server"
)

// buildFederation loads (or creates) the hub's federation key and builds the federation
// service with the hub's card (docs/FEDERATION.md). The card's URL is set when the hub
// starts serving (Serve), from public_url or the listener.
func (h *Hub) buildFederation() error {
	fedKey, err := h.ensureHubKey("federation-signing", pki.PurposeFederation)
	if err != nil {
		return err
	}
	h.FederationKey = fedKey.key
	_, fedCert, err := fedKey.pem()
	if err != nil {
		return err
	}
	pullCert, err := os.ReadFile(filepath.Join(h.Config.DataDir, "ca", "pull-signing-cert.pem"))
	if err != nil {
		return err
	}
	cfg := h.Config.Federation
	card := federation.HubCard{ID: strings.TrimSpace(cfg.HubID), Name: strings.TrimSpace(cfg.Name), Region: strings.TrimSpace(cfg.Region),
		RootPEM: h.CA.RootPEM(), IssuingPEM: h.CA.IssuingPEM(), FederationCertPEM: fedCert, PullCertPEM: string(pullCert)}
	if cfg.Level != "" {
		if card.Level, err = exchange.ParseLevel(cfg.Level); err != nil {
			return err
		}
	}
	if card.ID != "" {
		if err := federation.ValidateHubID(card.ID); err != nil {
			return err
		}
		if card.Name == "" {
			card.Name = card.ID
		}
	}
	if b, err := os.ReadFile(TLSFiles{Dir: filepath.Join(h.Config.DataDir, "tls")}.CACert()); err == nil && h.TLS != nil {
		card.TLSCAPEM = string(b)
	}
	h.Federation = &server.Federation{Store: h.Store, Audit: h.Audit.Writer, Log: h.Log, Now: h.now, Card: card, Key: fedKey.key,
		Requirements: h.Requirements, Puller: h.Puller, PullSigner: &server.PullSigner{Key: h.PullKey},
		AuditLog: h.Audit.Log, LogID: h.Audit.LogID, SubjectKey: h.Audit.SubjectKey, Trust: h.Trust}
	return nil
}
