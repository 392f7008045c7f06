package fabric

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gxhub/gxhub/ledger"
)

// Peer is one organisation's peer, reached over TLS.
type Peer struct {
	// MSPID is the organisation's MSP id (e.g. "Dept1MSP").
	MSPID string
	// Address is host:port of the peer's gRPC (and gateway) listener.
	Address string
	// ServerName is the TLS server name to verify (default: the host of Address).
	ServerName string
	// TLSCACertFile is the PEM file of the CA that issued the peer's TLS certificate.
	TLSCACertFile string
}

// Config says which Fabric network, channel and chaincode the anchorer
// uses, as which client identity, and for which audit log.
//
// Either NetworkFile is set (the connection profile testnet/up.sh writes,
// see testnet/README.md) and the identity and peers are taken from it, or
// Gateway, CertFile, KeyFile (and OtherPeers) are set explicitly.
type Config struct {
	// NetworkFile is a network.json connection profile.
	NetworkFile string
	// MSPID is the organisation to act as. With NetworkFile it selects the
	// organisation (default: the first one); its peer is the gateway, its
	// client user the identity, and every other organisation's peer is in
	// OtherPeers.
	MSPID string

	// Gateway is the peer whose Fabric Gateway service is used (explicit
	// configuration only).
	Gateway Peer
	// OtherPeers are the other organisations' peers. After each anchor the
	// anchorer waits until they have committed the block too, so that the
	// next anchor, endorsed by every organisation, is simulated against the
	// same state (explicit configuration only).
	OtherPeers []Peer
	// CertFile and KeyFile are the client identity's X.509 certificate and
	// its (ECDSA, from Fabric's CA or cryptogen) private key, PEM (explicit
	// configuration only). This is Fabric's identity, unrelated to the
	// hub's SM2 keys.
	CertFile, KeyFile string

	// Channel is the channel (default "gxaudit").
	Channel string
	// Chaincode is the anchoring chaincode (default "gxanchor").
	Chaincode string
	// LogID is the audit log whose heads are anchored; heads of any other
	// log are refused.
	LogID string
	// LogPublicKey is the log's SM2 public key (the hub's head signer),
	// registered with the chaincode's InitLog on the first anchor.
	LogPublicKey *ecdsa.PublicKey

	// CommitWait bounds how long an anchor waits for OtherPeers to commit
	// its block (default 30s). When it runs out the anchor is still
	// returned (it is committed on the gateway peer) and a warning logged.
	CommitWait time.Duration
	// Attempts bounds the tries of one Anchor call on transient failures
	// (default 6); back-off starts at 200ms and doubles up to 3s.
	Attempts int
	// EvaluateTimeout, EndorseTimeout, SubmitTimeout and CommitTimeout
	// bound each gateway call (defaults 10s, 20s, 10s, 1m).
	EvaluateTimeout, EndorseTimeout, SubmitTimeout, CommitTimeout time.Duration
}

// networkFile is the part of testnet's network.json the anchorer reads.
type networkFile struct {
	Channel       string `json:"channel"`
	Chaincode     string `json:"chaincode"`
	Organizations []struct {
		MspID string `json:"mspId"`
		Peer  struct {
			Address    string `json:"address"`
			ServerName string `json:"serverName"`
			TLSCACert  string `json:"tlsCACert"`
		} `json:"peer"`
		Client struct {
			CertFile string `json:"certFile"`
			KeyFile  string `json:"keyFile"`
		} `json:"client"`
	} `json:"organizations"`
}

// resolve fills the explicit fields from NetworkFile and the defaults, and
// validates the result.
func (c Config) resolve() (Config, error) {
	if c.NetworkFile != "" {
		raw, err := os.ReadFile(c.NetworkFile)
		if err != nil {
			return c, fmt.Errorf("fabric: read network file: %w; start the network with testnet/up.sh or point fabric_network at its network.json", err)
		}
		var nw networkFile
		if err := json.Unmarshal(raw, &nw); err != nil {
			return c, fmt.Errorf("%w: fabric network file %s is not valid JSON: %v", ledger.ErrInvalid, c.NetworkFile, err)
		}
		if len(nw.Organizations) == 0 {
			return c, fmt.Errorf("%w: fabric network file %s lists no organizations", ledger.ErrInvalid, c.NetworkFile)
		}
		if c.Channel == "" {
			c.Channel = nw.Channel
		}
		if c.Chaincode == "" {
			c.Chaincode = nw.Chaincode
		}
		if c.MSPID == "" {
			c.MSPID = nw.Organizations[0].MspID
		}
		found := false
		c.OtherPeers = nil
		for _, o := range nw.Organizations {
			p := Peer{MSPID: o.MspID, Address: o.Peer.Address, ServerName: o.Peer.ServerName, TLSCACertFile: o.Peer.TLSCACert}
			if o.MspID == c.MSPID {
				found = true
				c.Gateway = p
				c.CertFile, c.KeyFile = o.Client.CertFile, o.Client.KeyFile
				continue
			}
			c.OtherPeers = append(c.OtherPeers, p)
		}
		if !found {
			return c, fmt.Errorf("%w: organization %q is not in fabric network file %s", ledger.ErrInvalid, c.MSPID, c.NetworkFile)
		}
	}
	if c.Gateway.MSPID == "" {
		c.Gateway.MSPID = c.MSPID
	}
	c.MSPID = c.Gateway.MSPID
	if c.Channel == "" {
		c.Channel = "gxaudit"
	}
	if c.Chaincode == "" {
		c.Chaincode = "gxanchor"
	}
	if c.CommitWait <= 0 {
		c.CommitWait = 30 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 6
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.EvaluateTimeout, 10*time.Second)
	def(&c.EndorseTimeout, 20*time.Second)
	def(&c.SubmitTimeout, 10*time.Second)
	def(&c.CommitTimeout, time.Minute)

	var errs []error
	if c.LogID == "" || strings.ContainsAny(c.LogID, " \t\r\n") {
		errs = append(errs, fmt.Errorf("log id %q must be non-empty without white space", c.LogID))
	}
	if c.LogPublicKey == nil {
		errs = append(errs, errors.New("LogPublicKey (the hub's SM2 head-signing key) is required"))
	}
	for _, p := range append([]Peer{c.Gateway}, c.OtherPeers...) {
		if p.MSPID == "" || p.Address == "" || p.TLSCACertFile == "" {
			errs = append(errs, fmt.Errorf("peer %+v needs an MSP id, an address and a TLS CA certificate file", p))
		}
	}
	if c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("the client identity needs CertFile and KeyFile (or a NetworkFile)"))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: fabric anchorer configuration: %w", ledger.ErrInvalid, errors.Join(errs...))
	}
	return c, nil
}
