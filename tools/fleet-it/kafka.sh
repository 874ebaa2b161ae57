#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft: broker and controller in one JVM) from Maven Central's
# artifacts (tools/fleet-it/pom.xml), for tests and trying the fleet out on one machine.
#   tools/fleet-it/kafka.sh DATA_DIR PORT [CONTROLLER_PORT]    # runs in the foreground; Ctrl-C stops it
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data=${1:?usage: kafka.sh DATA_DIR PORT [CONTROLLER_PORT]}
port=${2:?usage: kafka.sh DATA_DIR PORT [CONTROLLER_PORT]}
cport=${3:-$((port + 1))}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/aertrace/fleet-it"
mkdir -p "$cache" "$data"
cp="$cache/kafka.classpath"
stale_cp() {   # no list yet, an older pom, or a jar the list names is gone (a cleaned ~/.m2)
  [ ! -s "$cp" ] || [ "$here/pom.xml" -nt "$cp" ] && return 0
  local IFS=:
  for j in $(cat "$cp"); do [ -f "$j" ] || return 0; done
  return 1
}
if stale_cp; then
  "$root/mvnw" -q -B -f "$here/pom.xml" dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp" >&2
fi
cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/log
num.partitions=8
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=2000
PROPS
java_opts=${KAFKA_JAVA_OPTS:--Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
if [ ! -f "$data/log/meta.properties" ]; then
  java $java_opts -cp "$(cat "$cp")" kafka.tools.StorageTool format -t "$(java -cp "$(cat "$cp")" kafka.tools.StorageTool random-uuid)" \
    -c "$data/server.properties" >/dev/null
fi
exec java $java_opts -cp "$(cat "$cp")" kafka.Kafka "$data/server.properties"
