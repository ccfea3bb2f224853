#!/usr/bin/env bash
# Starts (or stops) the Redis topologies the "several instances" tests run on, all on 127.0.0.1 and
# keeping nothing on disk beyond a scratch folder:
#   cluster:  six `redis-server --cluster-enabled yes` nodes on 7001-7006, three masters with one replica each
#             -> REDIS_URL=redis-cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
#   sentinel: a master on 6390, a replica on 6391, three Sentinels on 26390-26392 watching "pushotp"
#             -> REDIS_URL=redis-sentinel://127.0.0.1:26390,127.0.0.1:26391,127.0.0.1:26392/pushotp
# Usage: scripts/redis-topologies.sh start|stop [cluster|sentinel|all]
set -euo pipefail
action=${1:-start}
which=${2:-all}
dir=${REDIS_TOPOLOGY_DIR:-/tmp/pushotp-redis-topologies}

start_cluster() {
  mkdir -p "$dir/cluster"
  for port in 7001 7002 7003 7004 7005 7006; do
    mkdir -p "$dir/cluster/$port"
    redis-cli -p "$port" ping >/dev/null 2>&1 && continue
    (cd "$dir/cluster/$port" && rm -f nodes.conf && redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 2000 --save "" --appendonly no --daemonize yes \
      --dir "$dir/cluster/$port" --logfile "$dir/cluster/$port.log")
  done
  for port in 7001 7002 7003 7004 7005 7006; do
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  if ! redis-cli -p 7001 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
    redis-cli --cluster create 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005 127.0.0.1:7006 \
      --cluster-replicas 1 --cluster-yes >/dev/null
    for _ in $(seq 1 100); do redis-cli -p 7001 cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1; done
  fi
  redis-cli -p 7001 cluster info | grep -q 'cluster_state:ok' || { echo "the Redis cluster did not form" >&2; exit 1; }
  echo "cluster ready: redis-cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
}

start_sentinel() {
  mkdir -p "$dir/sentinel"
  redis-cli -p 6390 ping >/dev/null 2>&1 || redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$dir/sentinel" --logfile "$dir/sentinel/6390.log"
  redis-cli -p 6391 ping >/dev/null 2>&1 || redis-server --port 6391 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --replicaof 127.0.0.1 6390 --dir "$dir/sentinel" --logfile "$dir/sentinel/6391.log"
  for port in 26390 26391 26392; do
    redis-cli -p "$port" ping >/dev/null 2>&1 && continue
    cat > "$dir/sentinel/sentinel-$port.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
logfile $dir/sentinel/$port.log
dir $dir/sentinel
sentinel monitor pushotp 127.0.0.1 6390 2
sentinel down-after-milliseconds pushotp 1000
sentinel failover-timeout pushotp 3000
sentinel parallel-syncs pushotp 1
CONF
    redis-server "$dir/sentinel/sentinel-$port.conf" --sentinel
  done
  for _ in $(seq 1 100); do
    redis-cli -p 26390 sentinel get-master-addr-by-name pushotp 2>/dev/null | grep -q . && break; sleep 0.1
  done
  redis-cli -p 26390 sentinel get-master-addr-by-name pushotp | grep -q . || { echo "the Sentinels do not name a master" >&2; exit 1; }
  echo "sentinel ready: redis-sentinel://127.0.0.1:26390,127.0.0.1:26391,127.0.0.1:26392/pushotp"
}

stop_ports() { for port in "$@"; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done; }

case "$action" in
  start)
    [[ $which == all || $which == cluster ]] && start_cluster
    [[ $which == all || $which == sentinel ]] && start_sentinel
    ;;
  stop)
    [[ $which == all || $which == cluster ]] && stop_ports 7001 7002 7003 7004 7005 7006
    [[ $which == all || $which == sentinel ]] && stop_ports 26390 26391 26392 6391 6390
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop [cluster|sentinel|all]" >&2; exit 64 ;;
esac
