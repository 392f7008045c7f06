#!/usr/bin/env bash
# Brings up a Hyperledger Fabric v2.5 test network natively on 127.0.0.1 (no Docker):
# one etcdraft orderer, two department organisations (Dept1MSP, Dept2MSP) with one peer
# each, TLS on every listener, channel "gxaudit" created through the channel
# participation API, and the gxanchor chaincode deployed as an external service with the
# endorsement policy AND('Dept1MSP.peer','Dept2MSP.peer'). Writes testnet/.run/network.json.
#
# Idempotent: if the network in testnet/.run is already running, it only prints where it
# is. A stale testnet/.run (processes gone) is removed and the network is made afresh.
#
#   GXHUB_FABRIC_BIN        Fabric binaries (default testnet/.bin; built by build.sh if missing)
#   GXHUB_TESTNET_RUN       run folder (default testnet/.run)
#   GXHUB_TESTNET_PORT      first port to try (default 17050); 40 consecutive ports are used
#   GXHUB_TESTNET_BATCH     orderer BatchTimeout (default 200ms)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
BIN="${GXHUB_FABRIC_BIN:-$here/.bin}"
RUN="${GXHUB_TESTNET_RUN:-$here/.run}"
CHANNEL=gxaudit
CC_NAME=gxanchor
CC_LABEL=gxanchor_1.0
CC_POLICY="AND('Dept1MSP.peer','Dept2MSP.peer')"
BATCH_TIMEOUT="${GXHUB_TESTNET_BATCH:-200ms}"
t0=${EPOCHREALTIME/./} # microseconds (bash 5)

log() {
	local us=$((${EPOCHREALTIME/./} - t0))
	printf '[testnet/up %3d.%01ds] %s\n' $((us / 1000000)) $((us % 1000000 / 100000)) "$*" >&2
}
die() {
	log "error: $*"
	log "logs are in $RUN/logs; stop what was started with testnet/down.sh"
	exit 1
}

for tool in jq tar gzip ss setsid go; do
	command -v "$tool" >/dev/null || die "'$tool' is not installed; install it (e.g. apt-get install $tool) and rerun"
done

# --- already running? -------------------------------------------------------------------
# alive PIDFILE: the process runs (a zombie, killed but not yet reaped, does not count).
alive() {
	[[ -f "$1" ]] || return 1
	local pid
	pid="$(cat "$1")"
	kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}
if [[ -f "$RUN/network.json" ]]; then
	all=1
	for p in "$RUN"/pids/*.pid; do alive "$p" || all=0; done
	if [[ $all == 1 ]]; then
		log "network already running (see $RUN/network.json); testnet/down.sh stops it"
		exit 0
	fi
	log "stale $RUN (some processes are gone): tearing it down first"
fi
if [[ -d "$RUN" ]]; then
	"$here/down.sh"
fi

# --- binaries -----------------------------------------------------------------------------
if [[ ! -x "$BIN/peer" || ! -f "$BIN/config/core.yaml" ]]; then
	log "Fabric binaries missing in $BIN: running build.sh"
	GXHUB_FABRIC_BIN="$BIN" "$here/build.sh"
fi
BIN="$(cd "$BIN" && pwd)"
export PATH="$BIN:$PATH"

mkdir -p "$RUN"/{logs,pids,config,bin}
RUN="$(cd "$RUN" && pwd)"

# --- ports --------------------------------------------------------------------------------
# Find 40 consecutive free ports from GXHUB_TESTNET_PORT on, in steps of 100.
port_free() { ! ss -Htln "sport = :$1" | grep -q .; }
base="${GXHUB_TESTNET_PORT:-17050}"
for _ in $(seq 1 20); do
	ok=1
	for off in $(seq 0 39); do port_free $((base + off)) || { ok=0; break; }; done
	[[ $ok == 1 ]] && break
	base=$((base + 100))
done
[[ $ok == 1 ]] || die "no 40 consecutive free ports found from ${GXHUB_TESTNET_PORT:-17050}; set GXHUB_TESTNET_PORT"
ORD_PORT=$base ORD_ADMIN=$((base + 3)) ORD_OPS=$((base + 4))
P1_PORT=$((base + 10)) P1_CC=$((base + 11)) P1_OPS=$((base + 12))
P2_PORT=$((base + 20)) P2_CC=$((base + 21)) P2_OPS=$((base + 22))
CC_PORT=$((base + 30))
log "ports: orderer $ORD_PORT (admin $ORD_ADMIN), peer0.dept1 $P1_PORT, peer0.dept2 $P2_PORT, chaincode $CC_PORT"

# --- crypto material ----------------------------------------------------------------------
cat >"$RUN/config/crypto-config.yaml" <<EOF
OrdererOrgs:
  - Name: Orderer
    Domain: orderer.gxhub.test
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: [127.0.0.1, localhost]
PeerOrgs:
  - Name: Dept1
    Domain: dept1.gxhub.test
    EnableNodeOUs: true
    Specs:
      - Hostname: peer0
        SANS: [127.0.0.1, localhost]
      - Hostname: gxanchor
        SANS: [127.0.0.1, localhost]
    Users:
      Count: 1
  - Name: Dept2
    Domain: dept2.gxhub.test
    EnableNodeOUs: true
    Specs:
      - Hostname: peer0
        SANS: [127.0.0.1, localhost]
    Users:
      Count: 1
EOF
log "cryptogen: orderer org, Dept1 (市场监督管理局), Dept2 (公安局)"
cryptogen generate --config "$RUN/config/crypto-config.yaml" --output "$RUN/crypto" >"$RUN/logs/cryptogen.log" 2>&1 ||
	die "cryptogen failed: $(cat "$RUN/logs/cryptogen.log")"

C="$RUN/crypto"
ORD_DIR="$C/ordererOrganizations/orderer.gxhub.test"
ORD_NODE="$ORD_DIR/orderers/orderer.orderer.gxhub.test"
ORD_CA="$ORD_NODE/tls/ca.crt"
ORD_ADMIN_TLS="$ORD_DIR/users/Admin@orderer.gxhub.test/tls"
org_dir() { echo "$C/peerOrganizations/dept$1.gxhub.test"; }
peer_tls() { echo "$(org_dir "$1")/peers/peer0.dept$1.gxhub.test/tls"; }
admin_msp() { echo "$(org_dir "$1")/users/Admin@dept$1.gxhub.test/msp"; }
user_msp() { echo "$(org_dir "$1")/users/User1@dept$1.gxhub.test/msp"; }

# --- configuration ------------------------------------------------------------------------
# Fabric's sample core.yaml/orderer.yaml, with the two settings that cannot be set through
# the environment: no Docker endpoint, and our chaincode-as-a-service builder.
cp "$BIN/config/core.yaml" "$BIN/config/orderer.yaml" "$RUN/config/"
sed -i -e "s#endpoint: unix:///var/run/docker.sock#endpoint: \"\"#" \
	-e "s#path: /opt/hyperledger/ccaas_builder#path: $RUN/builders/ccaas#" "$RUN/config/core.yaml"
grep -q "path: $RUN/builders/ccaas" "$RUN/config/core.yaml" || die "could not set the external builder in core.yaml"

mkdir -p "$RUN/builders/ccaas/bin"
cat >"$RUN/builders/ccaas/bin/detect" <<'EOF'
#!/usr/bin/env bash
# detect CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR: accept packages of type "ccaas".
set -euo pipefail
grep -Eq '"type"[[:space:]]*:[[:space:]]*"ccaas"' "$2/metadata.json"
EOF
cat >"$RUN/builders/ccaas/bin/build" <<'EOF'
#!/usr/bin/env bash
# build CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR BUILD_OUTPUT_DIR: nothing to compile;
# keep connection.json (and META-INF, if any) for release.
set -euo pipefail
[[ -f "$1/connection.json" ]] || { echo "ccaas build: $1/connection.json missing from code.tar.gz" >&2; exit 1; }
cp "$1/connection.json" "$3/connection.json"
if [[ -d "$1/META-INF" ]]; then cp -R "$1/META-INF" "$3/"; fi
EOF
cat >"$RUN/builders/ccaas/bin/release" <<'EOF'
#!/usr/bin/env bash
# release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR: tell the peer where the chaincode server is.
set -euo pipefail
mkdir -p "$2/chaincode/server"
cp "$1/connection.json" "$2/chaincode/server/connection.json"
if [[ -d "$1/META-INF/statedb" ]]; then
	mkdir -p "$2/statedb"
	cp -R "$1/META-INF/statedb/." "$2/statedb/"
fi
EOF
chmod +x "$RUN/builders/ccaas/bin/"*

cat >"$RUN/config/configtx.yaml" <<EOF
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: $ORD_DIR/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP.admin')"}
    OrdererEndpoints:
      - 127.0.0.1:$ORD_PORT
  - &Dept1
    Name: Dept1MSP
    ID: Dept1MSP
    MSPDir: $(org_dir 1)/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('Dept1MSP.admin','Dept1MSP.peer','Dept1MSP.client')"}
      Writers: {Type: Signature, Rule: "OR('Dept1MSP.admin','Dept1MSP.client')"}
      Admins: {Type: Signature, Rule: "OR('Dept1MSP.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('Dept1MSP.peer')"}
    AnchorPeers:
      - Host: 127.0.0.1
        Port: $P1_PORT
  - &Dept2
    Name: Dept2MSP
    ID: Dept2MSP
    MSPDir: $(org_dir 2)/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('Dept2MSP.admin','Dept2MSP.peer','Dept2MSP.client')"}
      Writers: {Type: Signature, Rule: "OR('Dept2MSP.admin','Dept2MSP.client')"}
      Admins: {Type: Signature, Rule: "OR('Dept2MSP.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('Dept2MSP.peer')"}
    AnchorPeers:
      - Host: 127.0.0.1
        Port: $P2_PORT
Capabilities:
  Channel: &ChannelCapabilities
    V2_0: true
  Orderer: &OrdererCapabilities
    V2_0: true
  Application: &ApplicationCapabilities
    V2_5: true
Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    LifecycleEndorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
    Endorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
  Capabilities:
    <<: *ApplicationCapabilities
Orderer: &OrdererDefaults
  OrdererType: etcdraft
  EtcdRaft:
    Consenters:
      - Host: 127.0.0.1
        Port: $ORD_PORT
        ClientTLSCert: $ORD_NODE/tls/server.crt
        ServerTLSCert: $ORD_NODE/tls/server.crt
  BatchTimeout: $BATCH_TIMEOUT
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: 512 KB
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    BlockValidation: {Type: ImplicitMeta, Rule: "ANY Writers"}
Channel: &ChannelDefaults
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
  Capabilities:
    <<: *ChannelCapabilities
Profiles:
  GxAuditChannel:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Organizations:
        - *OrdererOrg
      Capabilities: *OrdererCapabilities
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Dept1
        - *Dept2
      Capabilities: *ApplicationCapabilities
EOF
log "configtxgen: genesis block of channel $CHANNEL (BatchTimeout $BATCH_TIMEOUT)"
FABRIC_CFG_PATH="$RUN/config" configtxgen -profile GxAuditChannel -outputBlock "$RUN/$CHANNEL.block" \
	-channelID "$CHANNEL" >"$RUN/logs/configtxgen.log" 2>&1 || die "configtxgen failed: $(tail -5 "$RUN/logs/configtxgen.log")"

# --- processes ----------------------------------------------------------------------------
# start NAME CMD...: run CMD detached (own session, no inherited stdio), log and record its PID.
start() {
	local name=$1
	shift
	setsid "$@" </dev/null >"$RUN/logs/$name.log" 2>&1 &
	echo $! >"$RUN/pids/$name.pid"
}

log "starting orderer (127.0.0.1:$ORD_PORT, admin $ORD_ADMIN)"
mkdir -p "$RUN/orderer"
start orderer env FABRIC_CFG_PATH="$RUN/config" \
	FABRIC_LOGGING_SPEC=INFO \
	ORDERER_GENERAL_LISTENADDRESS=127.0.0.1 \
	ORDERER_GENERAL_LISTENPORT="$ORD_PORT" \
	ORDERER_GENERAL_LOCALMSPID=OrdererMSP \
	ORDERER_GENERAL_LOCALMSPDIR="$ORD_NODE/msp" \
	ORDERER_GENERAL_TLS_ENABLED=true \
	ORDERER_GENERAL_TLS_PRIVATEKEY="$ORD_NODE/tls/server.key" \
	ORDERER_GENERAL_TLS_CERTIFICATE="$ORD_NODE/tls/server.crt" \
	ORDERER_GENERAL_TLS_ROOTCAS="[$ORD_CA]" \
	ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE="$ORD_NODE/tls/server.crt" \
	ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY="$ORD_NODE/tls/server.key" \
	ORDERER_GENERAL_CLUSTER_ROOTCAS="[$ORD_CA]" \
	ORDERER_GENERAL_BOOTSTRAPMETHOD=none \
	ORDERER_CHANNELPARTICIPATION_ENABLED=true \
	ORDERER_FILELEDGER_LOCATION="$RUN/orderer/ledger" \
	ORDERER_CONSENSUS_WALDIR="$RUN/orderer/etcdraft/wal" \
	ORDERER_CONSENSUS_SNAPDIR="$RUN/orderer/etcdraft/snapshot" \
	ORDERER_OPERATIONS_LISTENADDRESS="127.0.0.1:$ORD_OPS" \
	ORDERER_METRICS_PROVIDER=prometheus \
	ORDERER_ADMIN_LISTENADDRESS="127.0.0.1:$ORD_ADMIN" \
	ORDERER_ADMIN_TLS_ENABLED=true \
	ORDERER_ADMIN_TLS_PRIVATEKEY="$ORD_NODE/tls/server.key" \
	ORDERER_ADMIN_TLS_CERTIFICATE="$ORD_NODE/tls/server.crt" \
	ORDERER_ADMIN_TLS_ROOTCAS="[$ORD_CA]" \
	ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true \
	ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$ORD_CA]" \
	"$BIN/orderer" start
# setsid and env exec the program, so each recorded PID is the Fabric process itself.

start_peer() { # org listen-port chaincode-port operations-port
	local org=$1 port=$2 ccport=$3 ops=$4
	local tls
	tls="$(peer_tls "$org")"
	mkdir -p "$RUN/peer$org"
	log "starting peer0.dept$org (127.0.0.1:$port)"
	start "peer$org" env FABRIC_CFG_PATH="$RUN/config" \
		FABRIC_LOGGING_SPEC="INFO" \
		CORE_PEER_ID="peer0.dept$org.gxhub.test" \
		CORE_PEER_ADDRESS="127.0.0.1:$port" \
		CORE_PEER_LISTENADDRESS="127.0.0.1:$port" \
		CORE_PEER_CHAINCODEADDRESS="127.0.0.1:$ccport" \
		CORE_PEER_CHAINCODELISTENADDRESS="127.0.0.1:$ccport" \
		CORE_PEER_ADDRESSAUTODETECT=false \
		CORE_PEER_GOSSIP_BOOTSTRAP="127.0.0.1:$port" \
		CORE_PEER_GOSSIP_EXTERNALENDPOINT="127.0.0.1:$port" \
		CORE_PEER_GOSSIP_USELEADERELECTION=true \
		CORE_PEER_GOSSIP_ORGLEADER=false \
		CORE_PEER_GOSSIP_RECONNECTINTERVAL=2s \
		CORE_PEER_LOCALMSPID="Dept${org}MSP" \
		CORE_PEER_MSPCONFIGPATH="$(org_dir "$org")/peers/peer0.dept$org.gxhub.test/msp" \
		CORE_PEER_TLS_ENABLED=true \
		CORE_PEER_TLS_CERT_FILE="$tls/server.crt" \
		CORE_PEER_TLS_KEY_FILE="$tls/server.key" \
		CORE_PEER_TLS_ROOTCERT_FILE="$tls/ca.crt" \
		CORE_PEER_FILESYSTEMPATH="$RUN/peer$org/data" \
		CORE_LEDGER_SNAPSHOTS_ROOTDIR="$RUN/peer$org/snapshots" \
		CORE_OPERATIONS_LISTENADDRESS="127.0.0.1:$ops" \
		CORE_METRICS_PROVIDER=prometheus \
		CORE_CHAINCODE_EXECUTETIMEOUT=30s \
		"$BIN/peer" node start
}
start_peer 1 "$P1_PORT" "$P1_CC" "$P1_OPS"
start_peer 2 "$P2_PORT" "$P2_CC" "$P2_OPS"

# wait_for WHAT SECONDS CMD...: retry CMD every 0.2 s; fail after SECONDS, or at once if a
# network process died.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local deadline
	deadline=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		for p in "$RUN"/pids/*.pid; do
			alive "$p" || die "$(basename "$p" .pid) exited while waiting for $what; see $RUN/logs/$(basename "$p" .pid).log"
		done
		(($(date +%s) < deadline)) || die "timed out after ${secs}s waiting for $what"
		sleep 0.2
	done
}
listening() { ! port_free "$1"; }
wait_for "orderer to listen on $ORD_ADMIN" 60 listening "$ORD_ADMIN"
wait_for "peer0.dept1 to listen on $P1_PORT" 60 listening "$P1_PORT"
wait_for "peer0.dept2 to listen on $P2_PORT" 60 listening "$P2_PORT"

# --- channel ------------------------------------------------------------------------------
log "osnadmin: orderer joins $CHANNEL"
osnadmin channel join --channelID "$CHANNEL" --config-block "$RUN/$CHANNEL.block" -o "127.0.0.1:$ORD_ADMIN" \
	--ca-file "$ORD_CA" --client-cert "$ORD_ADMIN_TLS/client.crt" --client-key "$ORD_ADMIN_TLS/client.key" \
	>"$RUN/logs/osnadmin.log" 2>&1 || die "osnadmin channel join failed: $(cat "$RUN/logs/osnadmin.log")"
raft_leader() { grep -q "Raft leader changed: 0 -> 1" "$RUN/logs/orderer.log"; }
wait_for "a Raft leader on $CHANNEL" 60 raft_leader

# peer_as ORG ARGS...: run the peer CLI as ORG's admin against ORG's peer.
peer_as() {
	local org=$1 port
	shift
	port=$P1_PORT
	[[ $org == 2 ]] && port=$P2_PORT
	env FABRIC_CFG_PATH="$RUN/config" FABRIC_LOGGING_SPEC=WARN \
		CORE_PEER_LOCALMSPID="Dept${org}MSP" CORE_PEER_MSPCONFIGPATH="$(admin_msp "$org")" \
		CORE_PEER_ADDRESS="127.0.0.1:$port" CORE_PEER_TLS_ENABLED=true \
		CORE_PEER_TLS_ROOTCERT_FILE="$(peer_tls "$org")/ca.crt" \
		"$BIN/peer" "$@"
}
for org in 1 2; do
	log "peer0.dept$org joins $CHANNEL"
	peer_as "$org" channel join -b "$RUN/$CHANNEL.block" >>"$RUN/logs/cli.log" 2>&1 ||
		die "peer channel join (dept$org) failed: $(tail -3 "$RUN/logs/cli.log")"
done

# --- chaincode as a service ---------------------------------------------------------------
log "building the gxanchor chaincode server"
(cd "$repo/ledger/chaincode" && GONOSUMDB="github.com/hyperledger${GONOSUMDB:+,$GONOSUMDB}" \
	go build -o "$RUN/bin/gxanchor" ./cmd/gxanchor) >"$RUN/logs/go-build.log" 2>&1 ||
	die "building ledger/chaincode/cmd/gxanchor failed: $(tail -5 "$RUN/logs/go-build.log")"

CC_TLS="$(org_dir 1)/peers/gxanchor.dept1.gxhub.test/tls"
CC_CLIENT_TLS="$(org_dir 1)/users/User1@dept1.gxhub.test/tls"
pkg="$RUN/package"
mkdir -p "$pkg/src"
jq -n --arg addr "127.0.0.1:$CC_PORT" \
	--rawfile key "$CC_CLIENT_TLS/client.key" --rawfile cert "$CC_CLIENT_TLS/client.crt" --rawfile root "$CC_TLS/ca.crt" \
	'{address: $addr, dial_timeout: "10s", tls_required: true, client_auth_required: true,
	  client_key: $key, client_cert: $cert, root_cert: $root}' >"$pkg/src/connection.json"
jq -n --arg lbl "$CC_LABEL" '{"type": "ccaas", "label": $lbl}' >"$pkg/metadata.json"
# Fixed times and owners: the same inputs give the same package id.
det_tar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$@" | gzip -n; }
(cd "$pkg/src" && det_tar connection.json) >"$pkg/code.tar.gz"
(cd "$pkg" && det_tar metadata.json code.tar.gz) >"$RUN/$CC_NAME.tar.gz"
PKG_ID="$(peer_as 1 lifecycle chaincode calculatepackageid "$RUN/$CC_NAME.tar.gz")"
for org in 1 2; do
	log "installing $CC_NAME on peer0.dept$org"
	peer_as "$org" lifecycle chaincode install "$RUN/$CC_NAME.tar.gz" >>"$RUN/logs/cli.log" 2>&1 ||
		die "chaincode install (dept$org) failed: $(tail -3 "$RUN/logs/cli.log")"
done
log "starting the chaincode server (127.0.0.1:$CC_PORT, TLS, id $PKG_ID)"
start gxanchor env CHAINCODE_SERVER_ADDRESS="127.0.0.1:$CC_PORT" CHAINCODE_ID="$PKG_ID" \
	CHAINCODE_TLS_KEY_FILE="$CC_TLS/server.key" CHAINCODE_TLS_CERT_FILE="$CC_TLS/server.crt" \
	CHAINCODE_TLS_CLIENT_CA_FILE="$CC_TLS/ca.crt" "$RUN/bin/gxanchor"
wait_for "the chaincode server to listen on $CC_PORT" 30 listening "$CC_PORT"

# retry N CMD...: run CMD up to N times, 1 s apart (the orderer may still be settling).
retry() {
	local n=$1 i
	shift
	for ((i = 1; i <= n; i++)); do
		if "$@" >>"$RUN/logs/cli.log" 2>&1; then return 0; fi
		sleep 1
	done
	return 1
}
lifecycle_common=(-o "127.0.0.1:$ORD_PORT" --tls --cafile "$ORD_CA" --channelID "$CHANNEL" --name "$CC_NAME"
	--version 1.0 --sequence 1 --signature-policy "$CC_POLICY")
for org in 1 2; do
	log "Dept${org}MSP approves $CC_NAME with policy $CC_POLICY"
	retry 10 peer_as "$org" lifecycle chaincode approveformyorg "${lifecycle_common[@]}" --package-id "$PKG_ID" --waitForEvent ||
		die "approveformyorg (dept$org) failed: $(tail -5 "$RUN/logs/cli.log")"
done
log "committing the $CC_NAME definition (endorsed by both peers)"
retry 10 peer_as 1 lifecycle chaincode commit "${lifecycle_common[@]}" \
	--peerAddresses "127.0.0.1:$P1_PORT" --tlsRootCertFiles "$(peer_tls 1)/ca.crt" \
	--peerAddresses "127.0.0.1:$P2_PORT" --tlsRootCertFiles "$(peer_tls 2)/ca.crt" --waitForEvent ||
	die "chaincode commit failed: $(tail -5 "$RUN/logs/cli.log")"

cc_answers() { peer_as "$1" chaincode query -C "$CHANNEL" -n "$CC_NAME" -c '{"Args":["org.hyperledger.fabric:GetMetadata"]}'; }
wait_for "$CC_NAME to answer on peer0.dept1" 60 cc_answers 1
wait_for "$CC_NAME to answer on peer0.dept2" 60 cc_answers 2
# Gateways need each peer to know the other organisation's peer (gossip through the anchor
# peers) before they can collect both endorsements.
sees() { grep -q "peers went online.*127.0.0.1:$2" "$RUN/logs/peer$1.log"; }
wait_for "peer0.dept1 to see peer0.dept2" 60 sees 1 "$P2_PORT"
wait_for "peer0.dept2 to see peer0.dept1" 60 sees 2 "$P1_PORT"

# --- connection profile -------------------------------------------------------------------
org_json() { # org name
	local org=$1 port=$P1_PORT
	[[ $org == 2 ]] && port=$P2_PORT
	local user="$(org_dir "$org")/users/User1@dept$org.gxhub.test"
	local admin="$(org_dir "$org")/users/Admin@dept$org.gxhub.test"
	jq -n --arg msp "Dept${org}MSP" --arg name "$2" --arg addr "127.0.0.1:$port" \
		--arg ca "$(peer_tls "$org")/ca.crt" \
		--arg ucert "$user/msp/signcerts/User1@dept$org.gxhub.test-cert.pem" --arg ukey "$user/msp/keystore/priv_sk" \
		--arg acert "$admin/msp/signcerts/Admin@dept$org.gxhub.test-cert.pem" --arg akey "$admin/msp/keystore/priv_sk" \
		--arg ops "127.0.0.1:$([[ $org == 1 ]] && echo "$P1_OPS" || echo "$P2_OPS")" \
		'{mspId: $msp, name: $name,
		  peer: {address: $addr, serverName: "127.0.0.1", tlsCACert: $ca, operations: $ops},
		  client: {certFile: $ucert, keyFile: $ukey},
		  admin: {certFile: $acert, keyFile: $akey}}'
}
jq -n --arg channel "$CHANNEL" --arg cc "$CC_NAME" --arg pkg "$PKG_ID" --arg policy "$CC_POLICY" \
	--arg oaddr "127.0.0.1:$ORD_PORT" --arg oca "$ORD_CA" --arg oadmin "127.0.0.1:$ORD_ADMIN" \
	--arg ccaddr "127.0.0.1:$CC_PORT" --arg run "$RUN" \
	--argjson o1 "$(org_json 1 '市场监督管理局 (Dept1)')" --argjson o2 "$(org_json 2 '公安局 (Dept2)')" \
	'{channel: $channel, chaincode: $cc, packageId: $pkg, endorsementPolicy: $policy,
	  orderer: {address: $oaddr, tlsCACert: $oca, admin: $oadmin},
	  chaincodeServer: $ccaddr, runDir: $run,
	  organizations: [$o1, $o2]}' >"$RUN/network.json.tmp"
mv "$RUN/network.json.tmp" "$RUN/network.json"
log "network up: $RUN/network.json"
