#!/usr/bin/env bash
# federation-demo.sh starts a local federation on 127.0.0.1 (docs/FEDERATION.md): a provincial
# hub (cq-province) and two municipal hubs (cq-city-a, cq-city-b), each its own gxhub process
# with its own data directory, CA, keys, departments and audit log; agreements between the
# province and each city offering 户籍人口信息 (500000-GA-0001); and, at city A, a granted
# remote requirement and an open case, so that a cross-level pull is one command away.
# Ctrl-C stops the three hubs.
#
# Usage: cmd/gxhub/federation-demo.sh [DIR]     (make federation-demo; DIR default fed-demo)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-fed-demo}
go build -o bin/ ./cmd/gxhub ./cmd/gxctl
export PATH=$PWD/bin:$PATH
rm -rf "$DIR" && mkdir -p "$DIR"
PIDS=""
trap 'kill $PIDS 2>/dev/null; wait' EXIT INT TERM
for H in province:provincial:500000 city-a:municipal:500100 city-b:municipal:500200; do
	IFS=: read -r N L R <<<"$H"
	GXHUB_FEDERATION_HUB_ID=cq-$N GXHUB_FEDERATION_LEVEL=$L GXHUB_FEDERATION_REGION=$R GXHUB_AUDIT_LOG_ID=cq-$N/audit \
		gxhub serve --demo --data-dir "$DIR/$N" --listen 127.0.0.1:0 >"$DIR/$N.log" 2>&1 &
	PIDS="$PIDS $!"
done
for N in province city-a city-b; do
	until grep -q "gxhub serving on" "$DIR/$N.log"; do sleep 0.2; done
	echo "cq-$N: $(grep -m1 -o 'gxhub serving on .*' "$DIR/$N.log")"
done
P=$DIR/province/demo A=$DIR/city-a/demo B=$DIR/city-b/demo
COORD=11500000000000019A GA=115000000000000350 GJJ=11500000000000051M
for C in city-a city-b; do
	gxctl --identity "$DIR/$C/demo/$COORD" federation identity -o "$DIR/$C-card.json"
	gxctl --identity "$P/$COORD" federation propose --peer "$DIR/$C-card.json" --offer 500000-GA-0001 \
		--until 2099-12-31 --id "FA-PROVINCE-${C^^}" -o "$DIR/FA-PROVINCE-$C.json" 2>/dev/null
	gxctl --identity "$DIR/$C/demo/$COORD" federation accept "$DIR/FA-PROVINCE-$C.json"
done
FID=$(gxctl --identity "$A/$GJJ" --json federation requirement file --hub cq-province --resource 500000-GA-0001 \
	--item name --item household_address --matter 500000-GJJ-0001 --duty "《住房公积金管理条例》第二十四条" | jq -r .id)
gxctl --identity "$P/$COORD" requirement review "$FID" --accept >/dev/null
gxctl --identity "$P/$GA" requirement answer "$FID" --grant >/dev/null
gxctl --identity "$A/$GJJ" federation requirement get "$FID"
gxctl --identity "$A/$GJJ" case open --matter 500000-GJJ-0001 --number GJJ-FED-0001 --applicant 500112198503120019 >/dev/null
cat <<EOM

The federation is up. A cross-level pull (city A's 公积金中心 → the province's 公安局 data):

  export PATH=$PWD/bin:\$PATH
  gxctl --identity $A/$GJJ federation pull --hub cq-province --requirement $FID \\
    --matter 500000-GJJ-0001 --case GJJ-FED-0001 -o pull.json 500112198503120019
  gxctl federation verify-receipt pull.json
  gxctl --identity $P/$COORD federation list

Ctrl-C stops the three hubs.
EOM
wait
