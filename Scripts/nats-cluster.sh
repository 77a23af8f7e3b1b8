#!/bin/sh
# A three-node NATS cluster on loopback with JetStream and the MQTT gateway on every node, for
# partitioned gateways and sharded simulators on a clustered broker:
#
#   Scripts/nats-cluster.sh [DIR]          write the configurations to DIR and run the three
#                                          servers until Ctrl-C (MQTT on 1884, 1885, 1886)
#   Scripts/nats-cluster.sh DIR --write    only write DIR/n1.conf, n2.conf, n3.conf
#
# Ports can be set: MQTT_PORTS="1884 1885 1886" CLIENT_PORTS="14222 14223 14224"
# ROUTE_PORTS="16222 16223 16224" (not NATS's 4222, which a system nats-server may hold). Devices and gateways connect to any node's MQTT port (QoS 0 and
# 1; sessions and retained messages live in JetStream, replicated on the three nodes). The
# first MQTT client of a fresh cluster creates those streams: connect one client and let it
# finish before starting many at once.
set -eu
DIR=${1:-nats-cluster}
MQTT_PORTS=${MQTT_PORTS:-"1884 1885 1886"}
CLIENT_PORTS=${CLIENT_PORTS:-"14222 14223 14224"}
ROUTE_PORTS=${ROUTE_PORTS:-"16222 16223 16224"}
mkdir -p "$DIR"
ROUTES=""
for p in $ROUTE_PORTS; do ROUTES="$ROUTES${ROUTES:+, }nats://127.0.0.1:$p"; done
i=1
for m in $MQTT_PORTS; do
  c=$(echo $CLIENT_PORTS | cut -d' ' -f$i)
  r=$(echo $ROUTE_PORTS | cut -d' ' -f$i)
  cat > "$DIR/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$c
jetstream { store_dir: "$DIR/n$i" }
cluster { name: city, listen: 127.0.0.1:$r, routes: [$ROUTES] }
mqtt { listen: 127.0.0.1:$m }
CONF
  i=$((i + 1))
done
[ "${2:-}" = "--write" ] && exit 0
command -v nats-server >/dev/null || { echo "nats-server is not installed: apt-get install nats-server" >&2; exit 1; }
trap 'kill $PIDS 2>/dev/null' INT TERM EXIT
PIDS=""
for n in 1 2 3; do nats-server -c "$DIR/n$n.conf" > "$DIR/n$n.log" 2>&1 & PIDS="$PIDS $!"; done
echo "NATS cluster: MQTT on $(for m in $MQTT_PORTS; do printf 'mqtt://127.0.0.1:%s ' $m; done)(logs in $DIR); Ctrl-C stops it"
wait
