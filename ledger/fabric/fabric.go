// Package fabric is the Hyperledger Fabric [ledger.Anchorer] (REQUIREMENTS
// C3, F2): it anchors the audit log's SM2-signed tree heads through the
// gxanchor chaincode (ledger/chaincode/gxanchor) on a channel whose
// endorsement policy needs every department's peer, using the Fabric
// Gateway client (github.com/hyperledger/fabric-gateway). It is the only
// package of the hub that imports Fabric.
//
// # What a Fabric anchor holds
//
// The chaincode keeps, per anchored head: the signed head (log id, size,
// root, time, SM2 signature, key id), its height in the log's anchor
// sequence, the consistency proof from the previous anchored head and the
// transaction id and time. An [ledger.Anchor] returned by this package
// fills Height, Time (the transaction's timestamp), Head, Consistency and
// Ref ("fabric:<channel>:<txid>", the transaction that recorded the head).
// It leaves PrevHash, Hash, Signature and KeyID empty: the blocks are not
// SM2-signed and hash-linked by the hub — that job is done by Fabric's own
// block hash chain and the endorsement policy (every department's peer
// re-executed and signed the checks). A verifier therefore must not pass
// Fabric anchors to verify.AnchorChain or verify.Block; it reads the anchors
// from a peer of its own organisation (an [Anchorer] configured with its
// own MSP id), and checks the head signatures and the consistency of
// consecutive anchors with [VerifyChain]. Ref names the transaction to
// inspect with qscc GetTransactionByID (e.g. to see which organisations
// endorsed it).
//
// # Anchoring
//
// [Anchorer.Anchor] registers the log (InitLog with the hub's SM2 public key)
// on first use, submits AnchorHead, waits for the commit on the gateway's
// peer and then until every other organisation's peer has the block too
// (qscc GetChainInfo): the next AnchorHead is endorsed by all of them and a
// lagging peer would simulate it against the previous head and refuse it.
// Transient failures are retried with bounded back-off. Anchoring is slow
// (a Fabric commit, hundreds of milliseconds) and belongs in the log's
// background publisher (ledger/log Config.Anchorer), never on a request path.
package fabric

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gxhub/gxhub/certs/sm"
	"github.com/gxhub/gxhub/ledger"
	"github.com/gxhub/gxhub/ledger/sm2sig"
)

// Anchorer anchors one audit log's heads on Fabric. It is safe for
// concurrent use.
type Anchorer struct {
	cfg      Config
	log      *slog.Logger
	keyID    string
	pubPEM   string
	gw       *client.Gateway
	contract *client.Contract
	owned    []*grpc.ClientConn
	others   []remote

	mu     sync.Mutex // guards closed and inited
	closed bool
	inited bool
}

var _ ledger.Anchorer = (*Anchorer)(nil)

// remote is another organisation's peer, reached through its own gateway
// service with the anchorer's identity (any channel member may read
// qscc's chain info).
type remote struct {
	mspID string
	gw    *client.Gateway
	qscc  *client.Contract
}

// Option tunes [New].
type Option func(*options)

type options struct {
	conn   grpc.ClientConnInterface
	logger *slog.Logger
}

// WithConnection makes the anchorer use conn for the gateway peer instead
// of dialing Config.Gateway itself. The caller keeps ownership: Close does
// not close it.
func WithConnection(conn grpc.ClientConnInterface) Option {
	return func(o *options) { o.conn = conn }
}

// WithLogger sets the logger for retries and slow peers (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// New connects to the Fabric gateway described by cfg. It does not contact
// the network yet (the first call does), so a hub can start while the
// network is still coming up.
func New(ctx context.Context, cfg Config, opts ...Option) (*Anchorer, error) {
	_ = ctx // reserved: connecting is lazy in gRPC
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	keyID, err := sm2sig.KeyID(cfg.LogPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: fabric anchorer: log public key: %v", ledger.ErrInvalid, err)
	}
	pubPEM, err := sm.MarshalPublicKeyPEM(cfg.LogPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: fabric anchorer: log public key: %v", ledger.ErrInvalid, err)
	}
	id, sign, err := loadIdentity(cfg.Gateway.MSPID, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	a := &Anchorer{cfg: cfg, log: o.logger.With(slog.String("component", "fabric-anchorer"), slog.String("log", cfg.LogID)), keyID: keyID, pubPEM: string(pubPEM)}
	connect := func(conn grpc.ClientConnInterface) (*client.Gateway, error) {
		return client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
			client.WithEvaluateTimeout(cfg.EvaluateTimeout), client.WithEndorseTimeout(cfg.EndorseTimeout),
			client.WithSubmitTimeout(cfg.SubmitTimeout), client.WithCommitStatusTimeout(cfg.CommitTimeout))
	}
	conn := o.conn
	if conn == nil {
		c, err := dial(cfg.Gateway)
		if err != nil {
			return nil, err
		}
		a.owned = append(a.owned, c)
		conn = c
	}
	if a.gw, err = connect(conn); err != nil {
		_ = a.Close()
		return nil, fmt.Errorf("fabric anchorer: connect gateway: %w", err)
	}
	a.contract = a.gw.GetNetwork(cfg.Channel).GetContract(cfg.Chaincode)
	for _, p := range cfg.OtherPeers {
		c, err := dial(p)
		if err != nil {
			_ = a.Close()
			return nil, err
		}
		a.owned = append(a.owned, c)
		gw, err := connect(c)
		if err != nil {
			_ = a.Close()
			return nil, fmt.Errorf("fabric anchorer: connect to %s's peer: %w", p.MSPID, err)
		}
		a.others = append(a.others, remote{mspID: p.MSPID, gw: gw, qscc: gw.GetNetwork(cfg.Channel).GetContract("qscc")})
	}
	return a, nil
}

func dial(p Peer) (*grpc.ClientConn, error) {
	caPEM, err := os.ReadFile(p.TLSCACertFile)
	if err != nil {
		return nil, fmt.Errorf("fabric anchorer: TLS CA of %s's peer: %w", p.MSPID, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: fabric anchorer: %s holds no PEM certificate", ledger.ErrInvalid, p.TLSCACertFile)
	}
	name := p.ServerName
	if name == "" {
		if host, _, err := net.SplitHostPort(p.Address); err == nil {
			name = host
		}
	}
	conn, err := grpc.NewClient(p.Address, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, name)))
	if err != nil {
		return nil, fmt.Errorf("%w: fabric anchorer: peer address %q: %v", ledger.ErrInvalid, p.Address, err)
	}
	return conn, nil
}

func loadIdentity(mspID, certFile, keyFile string) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric anchorer: client certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: fabric anchorer: client certificate %s: %v", ledger.ErrInvalid, certFile, err)
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: fabric anchorer: client identity: %v", ledger.ErrInvalid, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric anchorer: client key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: fabric anchorer: client key %s: %v", ledger.ErrInvalid, keyFile, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: fabric anchorer: client key %s: %v", ledger.ErrInvalid, keyFile, err)
	}
	return id, sign, nil
}

// Close closes the gateways and the connections the anchorer opened.
// Later calls fail with [ledger.ErrClosed].
func (a *Anchorer) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	var errs []error
	if a.gw != nil {
		errs = append(errs, a.gw.Close())
	}
	for _, r := range a.others {
		errs = append(errs, r.gw.Close())
	}
	for _, c := range a.owned {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (a *Anchorer) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// Channel returns the channel the anchors are on.
func (a *Anchorer) Channel() string { return a.cfg.Channel }

// MSPID returns the organisation the anchorer acts as (whose peer it reads).
func (a *Anchorer) MSPID() string { return a.cfg.MSPID }

// anchoredHead is the chaincode's AnchoredHead JSON (gxanchor.AnchoredHead).
type anchoredHead struct {
	LogID       string   `json:"logId"`
	Size        uint64   `json:"size"`
	RootHash    string   `json:"rootHash"`
	Time        int64    `json:"time"`
	Signature   string   `json:"signature"`
	KeyID       string   `json:"keyId"`
	Height      uint64   `json:"height"`
	Consistency []string `json:"consistency"`
	TxID        string   `json:"txId"`
	AnchoredAt  string   `json:"anchoredAt"`
}

func (a *Anchorer) toAnchor(raw []byte) (ledger.Anchor, error) {
	var h anchoredHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: the chaincode answered with invalid JSON: %v", ledger.ErrVerification, err)
	}
	bad := func(what string, err error) (ledger.Anchor, error) {
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: anchored head at height %d: %s: %v", ledger.ErrVerification, h.Height, what, err)
	}
	root, err := base64.StdEncoding.DecodeString(h.RootHash)
	if err != nil {
		return bad("root", err)
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil {
		return bad("signature", err)
	}
	proof := make([][]byte, len(h.Consistency))
	for i, s := range h.Consistency {
		if proof[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return bad("consistency proof", err)
		}
	}
	at, err := time.Parse(time.RFC3339Nano, h.AnchoredAt)
	if err != nil {
		return bad("anchoredAt", err)
	}
	if h.LogID != a.cfg.LogID {
		return bad("log id", fmt.Errorf("%q, want %q", h.LogID, a.cfg.LogID))
	}
	if len(proof) == 0 {
		proof = nil
	}
	return ledger.Anchor{
		Height:      h.Height,
		Time:        at,
		Head:        ledger.SignedTreeHead{TreeHead: ledger.TreeHead{LogID: h.LogID, Size: h.Size, Root: root, Time: time.Unix(0, h.Time)}, KeyID: h.KeyID, Signature: sig},
		Consistency: proof,
		Ref:         Ref(a.cfg.Channel, h.TxID),
	}, nil
}

// Ref returns the reference of an anchor recorded in transaction txID on
// channel: "fabric:<channel>:<txid>".
func Ref(channel, txID string) string { return "fabric:" + channel + ":" + txID }

// ParseRef splits a reference made by [Ref].
func ParseRef(ref string) (channel, txID string, err error) {
	parts := strings.Split(ref, ":")
	if len(parts) != 3 || parts[0] != "fabric" || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("%w: %q is not a Fabric anchor reference (fabric:<channel>:<txid>)", ledger.ErrInvalid, ref)
	}
	return parts[1], parts[2], nil
}

// Latest implements [ledger.Anchorer]: the chaincode's LatestHead.
func (a *Anchorer) Latest(ctx context.Context) (ledger.Anchor, error) {
	return a.read(ctx, "LatestHead", a.cfg.LogID)
}

// Get implements [ledger.Anchorer]: the chaincode's AnchorAt.
func (a *Anchorer) Get(ctx context.Context, height uint64) (ledger.Anchor, error) {
	if height == 0 {
		return ledger.Anchor{}, fmt.Errorf("%w: anchor heights start at 1", ledger.ErrNotFound)
	}
	return a.read(ctx, "AnchorAt", a.cfg.LogID, strconv.FormatUint(height, 10))
}

// BySize implements [ledger.Anchorer]: the chaincode's HeadAt.
func (a *Anchorer) BySize(ctx context.Context, treeSize uint64) (ledger.Anchor, error) {
	return a.read(ctx, "HeadAt", a.cfg.LogID, strconv.FormatUint(treeSize, 10))
}

func (a *Anchorer) read(ctx context.Context, fn string, args ...string) (ledger.Anchor, error) {
	raw, err := a.evaluate(ctx, fn, args...)
	if err != nil {
		return ledger.Anchor{}, err
	}
	return a.toAnchor(raw)
}

// evaluate runs a query on the gateway's peer, retrying transient failures
// a few times. Chaincode refusals are translated.
func (a *Anchorer) evaluate(ctx context.Context, fn string, args ...string) ([]byte, error) {
	if a.isClosed() {
		return nil, ledger.ErrClosed
	}
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				break
			}
		}
		var out []byte
		out, err = a.contract.EvaluateWithContext(ctx, fn, client.WithArguments(args...))
		if err == nil {
			return out, nil
		}
		if code := refusalCode(err); code != "" {
			return nil, a.refusal(code, fn, "", err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fabric anchorer: %s: %w", fn, ctx.Err())
		}
	}
	return nil, fmt.Errorf("%w: fabric anchorer: %s on %s's peer failed: %v; check that the peer is running and reachable", ledger.ErrUnavailable, fn, a.cfg.MSPID, err)
}

// Anchor implements [ledger.Anchorer].
func (a *Anchorer) Anchor(ctx context.Context, head ledger.SignedTreeHead, consistency [][]byte) (ledger.Anchor, error) {
	if a.isClosed() {
		return ledger.Anchor{}, ledger.ErrClosed
	}
	if err := head.Validate(); err != nil {
		return ledger.Anchor{}, fmt.Errorf("fabric anchorer: %w", err)
	}
	if head.LogID != a.cfg.LogID {
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: head of log %q, but this anchorer anchors log %q", ledger.ErrInvalid, head.LogID, a.cfg.LogID)
	}
	if len(head.Signature) == 0 {
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: the head of size %d is not signed", ledger.ErrInvalid, head.Size)
	}
	// The latest anchored head again: return it without a transaction.
	if latest, err := a.Latest(ctx); err == nil && ledger.SameHead(latest.Head.TreeHead, head.TreeHead) {
		return latest, nil
	}
	if err := a.ensureLog(ctx); err != nil {
		return ledger.Anchor{}, err
	}
	args := anchorArgs(head, consistency)
	var lastErr error
	refusedOnce := false
	for attempt := range a.cfg.Attempts {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return ledger.Anchor{}, fmt.Errorf("fabric anchorer: anchor head of size %d: %w (last failure: %v)", head.Size, err, lastErr)
			}
		}
		anc, err, retry := a.anchorOnce(ctx, head, args, &refusedOnce)
		if err == nil {
			return anc, nil
		}
		if !retry {
			return ledger.Anchor{}, err
		}
		a.log.Warn("fabric anchorer: anchoring failed, retrying", slog.Uint64("size", head.Size), slog.Int("attempt", attempt+1), slog.Any("error", err))
		lastErr = err
	}
	return ledger.Anchor{}, lastErr
}

// anchorOnce submits AnchorHead once. retry reports whether a new attempt
// may succeed.
func (a *Anchorer) anchorOnce(ctx context.Context, head ledger.SignedTreeHead, args []string, refusedOnce *bool) (_ ledger.Anchor, _ error, retry bool) {
	prop, err := a.contract.NewProposal("AnchorHead", client.WithArguments(args...))
	if err != nil {
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: build proposal: %v", ledger.ErrInvalid, err), false
	}
	txID := prop.TransactionID()
	tx, err := prop.EndorseWithContext(ctx)
	if err != nil {
		return a.endorseFailed(ctx, head, txID, err, refusedOnce)
	}
	commit, err := tx.SubmitWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ledger.Anchor{}, fmt.Errorf("fabric anchorer: submit tx %s: %w", txID, ctx.Err()), false
		}
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: the orderer did not accept tx %s: %v", ledger.ErrUnavailable, txID, err), true
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		// The transaction may have been committed: look.
		if anc, lerr := a.Latest(context.WithoutCancel(ctx)); lerr == nil && ledger.SameHead(anc.Head.TreeHead, head.TreeHead) {
			return anc, nil, false
		}
		if ctx.Err() != nil {
			return ledger.Anchor{}, fmt.Errorf("fabric anchorer: commit status of tx %s (it may still commit; Latest will show it): %w", txID, ctx.Err()), false
		}
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: no commit status for tx %s: %v", ledger.ErrUnavailable, txID, err), true
	}
	if !st.Successful {
		switch st.Code {
		case peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_PHANTOM_READ_CONFLICT:
			// Another writer anchored first. If it anchored this very head,
			// that is our answer.
			if anc, lerr := a.Latest(ctx); lerr == nil && ledger.SameHead(anc.Head.TreeHead, head.TreeHead) {
				a.waitOthers(ctx, st.BlockNumber)
				return anc, nil, false
			}
			return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: tx %s lost to a concurrent anchor (%s in block %d); re-read Latest and retry", ledger.ErrConflict, txID, st.Code, st.BlockNumber), false
		case peer.TxValidationCode_DUPLICATE_TXID:
			return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: tx %s: %s", ledger.ErrUnavailable, txID, st.Code), true
		default:
			return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: tx %s was not committed (validation code %s in block %d); check the channel's endorsement policy and the peers' logs", ledger.ErrUnavailable, txID, st.Code, st.BlockNumber), false
		}
	}
	anc, err := a.toAnchor(tx.Result())
	if err != nil {
		return ledger.Anchor{}, err, false
	}
	a.waitOthers(ctx, st.BlockNumber)
	return anc, nil, false
}

func (a *Anchorer) endorseFailed(ctx context.Context, head ledger.SignedTreeHead, txID string, err error, refusedOnce *bool) (ledger.Anchor, error, bool) {
	if ctx.Err() != nil {
		return ledger.Anchor{}, fmt.Errorf("fabric anchorer: endorse tx %s: %w", txID, ctx.Err()), false
	}
	code := refusalCode(err)
	switch code {
	case "":
		// Not the chaincode: peers unreachable, discovery not ready, or
		// endorsers that disagree because one lags behind.
		a.syncPeers(ctx)
		return ledger.Anchor{}, fmt.Errorf("%w: fabric anchorer: endorsing tx %s failed: %v", ledger.ErrUnavailable, txID, err), true
	case codeInconsistent, codeStale:
		// One endorsing peer may not have committed the latest block yet
		// and simulated against an older head: wait for the peers to agree
		// and try once more before believing the refusal.
		if !*refusedOnce && a.syncPeers(ctx) {
			*refusedOnce = true
			if anc, lerr := a.Latest(ctx); lerr == nil && ledger.SameHead(anc.Head.TreeHead, head.TreeHead) {
				return anc, nil, false
			}
			return ledger.Anchor{}, a.refusal(code, "AnchorHead", txID, err), true
		}
	case codeUnknownLog:
		a.mu.Lock()
		a.inited = false
		a.mu.Unlock()
		if ierr := a.ensureLog(ctx); ierr != nil {
			return ledger.Anchor{}, ierr, false
		}
		return ledger.Anchor{}, a.refusal(code, "AnchorHead", txID, err), true
	case codeFork:
		fe := &ledger.ForkError{B: head}
		if stored, serr := a.BySize(ctx, head.Size); serr == nil {
			fe.A = stored.Head
		} else {
			fe.A = ledger.SignedTreeHead{TreeHead: ledger.TreeHead{LogID: head.LogID, Size: head.Size}}
		}
		return ledger.Anchor{}, fmt.Errorf("fabric anchorer: tx %s refused: %w (chaincode: %s)", txID, fe, chaincodeMessage(err)), false
	}
	return ledger.Anchor{}, a.refusal(code, "AnchorHead", txID, err), false
}

// The chaincode's refusal codes (ledger/chaincode/gxanchor/errors.go).
const (
	codeInvalid      = "GXANCHOR_INVALID"
	codeLogExists    = "GXANCHOR_LOG_EXISTS"
	codeUnknownLog   = "GXANCHOR_UNKNOWN_LOG"
	codeBadSignature = "GXANCHOR_BAD_SIGNATURE"
	codeInconsistent = "GXANCHOR_INCONSISTENT"
	codeFork         = "GXANCHOR_FORK"
	codeStale        = "GXANCHOR_STALE"
	codeNotFound     = "GXANCHOR_NOT_FOUND"
)

var refusalCodes = []string{codeInvalid, codeLogExists, codeUnknownLog, codeBadSignature, codeInconsistent, codeFork, codeStale, codeNotFound}

// errorText returns err's message with the gateway's per-peer details.
func errorText(err error) string {
	var b strings.Builder
	b.WriteString(err.Error())
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if ed, ok := d.(*gateway.ErrorDetail); ok {
				b.WriteString("\n" + ed.GetMspId() + ": " + ed.GetMessage())
			}
		}
	}
	return b.String()
}

// refusalCode returns the chaincode refusal code in err, or "".
func refusalCode(err error) string {
	text := errorText(err)
	best, at := "", -1
	for _, c := range refusalCodes {
		if i := strings.Index(text, c); i >= 0 && (at < 0 || i < at) {
			best, at = c, i
		}
	}
	return best
}

// chaincodeMessage returns the chaincode's message from err (from the first
// refusal code on), or the whole error text.
func chaincodeMessage(err error) string {
	text := errorText(err)
	if c := refusalCode(err); c != "" {
		text = text[strings.Index(text, c):]
	}
	if i := strings.IndexByte(text, '\n'); i > 0 {
		text = text[:i]
	}
	return text
}

// refusal translates a chaincode refusal into the ledger's errors.
func (a *Anchorer) refusal(code, fn, txID string, err error) error {
	where := "fabric anchorer: " + fn
	if txID != "" {
		where += " (tx " + txID + ")"
	}
	msg := chaincodeMessage(err)
	switch code {
	case codeNotFound, codeUnknownLog:
		return fmt.Errorf("%s: %w: %s", where, ledger.ErrNotFound, msg)
	case codeInconsistent, codeStale:
		return fmt.Errorf("%s: %w: %s", where, ledger.ErrInconsistent, msg)
	case codeBadSignature:
		return fmt.Errorf("%s: %w", where, &ledger.ProofError{Kind: "signature", Err: errors.New(msg)})
	case codeFork:
		return fmt.Errorf("%s: %w: %s", where, ledger.ErrVerification, msg)
	case codeLogExists:
		return fmt.Errorf("%s: %w: %s; the log id is registered on the channel with another SM2 key: use a new audit log id or the original key", where, ledger.ErrInvalid, msg)
	default:
		return fmt.Errorf("%s: %w: %s", where, ledger.ErrInvalid, msg)
	}
}

// ensureLog registers the log with the chaincode (InitLog) unless it is
// registered with the configured key already.
func (a *Anchorer) ensureLog(ctx context.Context) error {
	a.mu.Lock()
	done := a.inited
	a.mu.Unlock()
	if done {
		return nil
	}
	raw, err := a.evaluate(ctx, "GetLog", a.cfg.LogID)
	switch {
	case err == nil:
		var info struct {
			KeyID string `json:"keyId"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			return fmt.Errorf("%w: fabric anchorer: GetLog answered invalid JSON: %v", ledger.ErrUnavailable, err)
		}
		if info.KeyID != a.keyID {
			return fmt.Errorf("%w: fabric anchorer: log %q is registered on channel %s with key %s, but the hub signs with key %s; use a new audit log id or the original key",
				ledger.ErrInvalid, a.cfg.LogID, a.cfg.Channel, info.KeyID, a.keyID)
		}
	case errors.Is(err, ledger.ErrNotFound):
		if err := a.initLog(ctx); err != nil {
			return err
		}
	default:
		return err
	}
	a.mu.Lock()
	a.inited = true
	a.mu.Unlock()
	return nil
}

func (a *Anchorer) initLog(ctx context.Context) error {
	var lastErr error
	for attempt := range a.cfg.Attempts {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return fmt.Errorf("fabric anchorer: InitLog: %w (last failure: %v)", err, lastErr)
			}
		}
		prop, err := a.contract.NewProposal("InitLog", client.WithArguments(a.cfg.LogID, a.pubPEM))
		if err != nil {
			return fmt.Errorf("%w: fabric anchorer: build InitLog proposal: %v", ledger.ErrInvalid, err)
		}
		tx, err := prop.EndorseWithContext(ctx)
		if err != nil {
			if code := refusalCode(err); code != "" {
				return a.refusal(code, "InitLog", prop.TransactionID(), err)
			}
			lastErr = fmt.Errorf("%w: fabric anchorer: endorse InitLog (tx %s): %v", ledger.ErrUnavailable, prop.TransactionID(), err)
			a.log.Warn("fabric anchorer: InitLog not accepted yet, retrying", slog.Any("error", lastErr))
			a.syncPeers(ctx)
			continue
		}
		commit, err := tx.SubmitWithContext(ctx)
		if err != nil {
			lastErr = fmt.Errorf("%w: fabric anchorer: submit InitLog (tx %s): %v", ledger.ErrUnavailable, tx.TransactionID(), err)
			continue
		}
		st, err := commit.StatusWithContext(ctx)
		if err != nil {
			lastErr = fmt.Errorf("%w: fabric anchorer: commit status of InitLog (tx %s): %v", ledger.ErrUnavailable, tx.TransactionID(), err)
			continue
		}
		if !st.Successful && st.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
			return fmt.Errorf("%w: fabric anchorer: InitLog tx %s was not committed (validation code %s); check the channel's endorsement policy", ledger.ErrUnavailable, tx.TransactionID(), st.Code)
		}
		// MVCC_READ_CONFLICT: another writer registered it at the same time; fine.
		a.waitOthers(ctx, st.BlockNumber)
		return nil
	}
	return lastErr
}

// chainHeight returns the block height of r's peer.
func chainHeight(ctx context.Context, r remote, channel string) (uint64, error) {
	raw, err := r.qscc.EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(channel))
	if err != nil {
		return 0, err
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, err
	}
	return info.GetHeight(), nil
}

// waitOthers waits (at most CommitWait) until every other organisation's
// peer has committed block. A peer that does not catch up is logged, not
// fatal: the anchor is committed and durable on the gateway's peer.
func (a *Anchorer) waitOthers(ctx context.Context, block uint64) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CommitWait)
	defer cancel()
	for _, r := range a.others {
		for {
			h, err := chainHeight(ctx, r, a.cfg.Channel)
			if err == nil && h > block {
				break
			}
			if serr := sleep(ctx, 10*time.Millisecond); serr != nil {
				a.log.Warn("fabric anchorer: another organisation's peer has not committed the anchor's block yet; the next anchor may be refused until it catches up",
					slog.String("msp", r.mspID), slog.Uint64("block", block), slog.Uint64("peerHeight", h), slog.Any("error", err))
				break
			}
		}
	}
}

// syncPeers waits (at most 5s or CommitWait, whichever is shorter) until all
// peers report the same chain height, and reports whether they do.
func (a *Anchorer) syncPeers(ctx context.Context) bool {
	if len(a.others) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, min(a.cfg.CommitWait, 5*time.Second))
	defer cancel()
	qscc := a.gw.GetNetwork(a.cfg.Channel).GetContract("qscc")
	self := remote{mspID: a.cfg.MSPID, qscc: qscc}
	for {
		hs := map[uint64]bool{}
		ok := true
		for _, r := range append([]remote{self}, a.others...) {
			h, err := chainHeight(ctx, r, a.cfg.Channel)
			if err != nil {
				ok = false
				break
			}
			hs[h] = true
		}
		if ok && len(hs) == 1 {
			return true
		}
		if sleep(ctx, 20*time.Millisecond) != nil {
			return false
		}
	}
}

func anchorArgs(h ledger.SignedTreeHead, proof [][]byte) []string {
	p := make([]string, len(proof))
	for i, n := range proof {
		p[i] = base64.StdEncoding.EncodeToString(n)
	}
	pj, _ := json.Marshal(p) // a []string always marshals
	return []string{
		h.LogID, strconv.FormatUint(h.Size, 10), base64.StdEncoding.EncodeToString(h.Root),
		strconv.FormatInt(h.Time.UnixNano(), 10), base64.StdEncoding.EncodeToString(h.Signature), string(pj),
	}
}

// backoff is 200ms·2^(attempt-1), at most 3s.
func backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond << (attempt - 1)
	return min(d, 3*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
