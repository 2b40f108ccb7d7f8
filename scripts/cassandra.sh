#!/usr/bin/env bash
# Start / stop a local single-node Apache Cassandra for development, tests and CI.
#
#   scripts/cassandra.sh start    start the node (no-op if CQL already answers), wait until ready
#   scripts/cassandra.sh stop     stop it (TERM, then KILL after CASSANDRA_STOP_TIMEOUT s); no-op if down
#   scripts/cassandra.sh status   print state; exit 0 = CQL ready, 2 = process up but not ready, 3 = down
#   scripts/cassandra.sh wait     wait until CQL answers a real query (exit 1 on timeout / crash)
#
# Nothing needs installing by hand: the first start runs Maven (scripts/cassandra/pom.xml) to copy
# cassandra-all and its runtime jars from Maven Central into .cache/cassandra/lib, and reuses them
# afterwards. Needs Java 11 or 17 (Cassandra 5.0 does not support newer JVMs) and mvn.
#
# Environment (all optional):
#   CASSANDRA_PORT          CQL (native transport) port            default 9042
#   CASSANDRA_STORAGE_PORT  inter-node port                        default 7000
#   CASSANDRA_JMX_PORT      local-only JMX port, or "off"          default 7199
#   CASSANDRA_DATA_DIR      data/commitlog/hints/... root          default <repo>/.cache/cassandra/data
#   CASSANDRA_HEAP_MIN      -Xms                                   default 256m
#   CASSANDRA_HEAP_MAX      -Xmx                                   default 1g
#   CASSANDRA_JVM_OPTS      extra JVM options (word-split)
#   CASSANDRA_WAIT_TIMEOUT  seconds to wait for CQL                default 180
#   CASSANDRA_STOP_TIMEOUT  seconds between TERM and KILL          default 60
#   CASSANDRA_JAVA          java binary (else $JAVA_HOME/bin/java, else java on PATH, else a JDK 17
#                           found under /usr/lib/jvm)
#
# Files: .cache/cassandra/{lib,conf,logs/system.log,logs/stdout.log,cassandra.pid,cassandra.port,data}
# Reset all data: scripts/cassandra.sh stop && rm -rf .cache/cassandra/data
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$SCRIPT_DIR/cassandra/pom.xml"
YAML_TMPL="$SCRIPT_DIR/cassandra/cassandra.yaml.tmpl"

CACHE_DIR="$REPO_ROOT/.cache/cassandra"
LIB_DIR="$CACHE_DIR/lib"
CONF_DIR="$CACHE_DIR/conf"
LOG_DIR="$CACHE_DIR/logs"
PID_FILE="$CACHE_DIR/cassandra.pid"
LOCK_FILE="$CACHE_DIR/.lock"
CONF_FILE="$CONF_DIR/cassandra.yaml"

HOST=127.0.0.1
PORT_FILE="$CACHE_DIR/cassandra.port"   # CQL port of the node started last (for status/wait/stop)
PORT="${CASSANDRA_PORT:-9042}"
STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-7000}"
JMX_PORT="${CASSANDRA_JMX_PORT:-7199}"
DATA_DIR="${CASSANDRA_DATA_DIR:-$CACHE_DIR/data}"
HEAP_MIN="${CASSANDRA_HEAP_MIN:-256m}"
HEAP_MAX="${CASSANDRA_HEAP_MAX:-1g}"
WAIT_TIMEOUT="${CASSANDRA_WAIT_TIMEOUT:-180}"
STOP_TIMEOUT="${CASSANDRA_STOP_TIMEOUT:-60}"

# Without CASSANDRA_PORT, status/wait/stop follow the port that the running node was started with.
if [[ -z "${CASSANDRA_PORT:-}" && -s "$PORT_FILE" && "${1:-}" != "start" ]]; then
  PORT="$(cat "$PORT_FILE")"
fi

# Relative CASSANDRA_DATA_DIR is taken relative to the repo root, whatever the cwd.
case "$DATA_DIR" in
  /*) ;;
  *) DATA_DIR="$REPO_ROOT/$DATA_DIR" ;;
esac

log() { printf 'cassandra.sh: %s\n' "$*"; }
err() { printf 'cassandra.sh: ERROR: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# CQL readiness: open a socket and speak the native protocol (v4) in plain bash:
# STARTUP must answer READY, then "SELECT release_version FROM system.local" must answer RESULT.
# An open port alone is not enough; this is a real query.
# ---------------------------------------------------------------------------------------------
cql_ready() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    # header: version 0x04, flags 0, stream 1, opcode 0x01 STARTUP, body length 22
    # body: string map {"CQL_VERSION": "3.0.0"}
    printf "\x04\x00\x00\x01\x01\x00\x00\x00\x16\x00\x01\x00\x0bCQL_VERSION\x00\x053.0.0" >&3
    hdr=$(head -c 9 <&3 | od -An -v -tx1 | tr -d " \n")
    [ "${hdr:8:2}" = "02" ] || exit 1            # READY
    # opcode 0x07 QUERY, body length 47 = [long string: 4 + 40 bytes] + [consistency ONE: 2] + [flags: 1]
    printf "\x04\x00\x00\x02\x07\x00\x00\x00\x2f\x00\x00\x00\x28SELECT release_version FROM system.local\x00\x01\x00" >&3
    hdr=$(head -c 9 <&3 | od -An -v -tx1 | tr -d " \n")
    [ "${hdr:8:2}" = "08" ] || exit 1            # RESULT
  ' _ "$HOST" "$PORT" >/dev/null 2>&1
}

port_listening() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# PID of our Cassandra, or nothing. Trusts the pid file only if that process really is a
# CassandraDaemon using our config file; otherwise looks the process up by that config path.
find_pid() {
  local pid=""
  if [[ -s "$PID_FILE" ]]; then
    pid="$(cat "$PID_FILE")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]]; then
      local cmdline
      cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
      if [[ "$cmdline" == *"-Dcassandra.config=file://$CONF_FILE "* ]]; then
        echo "$pid"
        return 0
      fi
    fi
  fi
  pgrep -f -- "-Dcassandra.config=file://$CONF_FILE " | head -n1 || true
}

print_log_tail() {
  local f
  for f in "$LOG_DIR/system.log" "$LOG_DIR/stdout.log"; do
    if [[ -s "$f" ]]; then
      echo "----- last 40 lines of $f -----" >&2
      tail -n 40 "$f" | cut -c1-400 >&2
    fi
  done
}

java_major() {
  "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\)[."].*/\1/p' | head -n1
}

pick_java() {
  local cand v
  for cand in "${CASSANDRA_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" \
              /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*17*/bin/java /usr/lib/jvm/*11*/bin/java; do
    [[ -n "$cand" && -x "$cand" ]] || continue
    v="$(java_major "$cand")"
    if [[ "$v" == "11" || "$v" == "17" ]]; then
      echo "$cand"
      return 0
    fi
    if [[ -n "${CASSANDRA_JAVA:-}" && "$cand" == "$CASSANDRA_JAVA" ]]; then
      err "CASSANDRA_JAVA=$cand is Java $v; Cassandra 5.0 needs Java 11 or 17"
      return 1
    fi
  done
  err "no Java 11 or 17 found (set CASSANDRA_JAVA); Cassandra 5.0 does not run on other versions"
  return 1
}

# On a fresh Debian/Ubuntu machine (CI): install Java 17 and Maven with apt when they are missing.
ensure_tools() {
  local need=()
  pick_java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  if ! compgen -G "$LIB_DIR/cassandra-all-*.jar" >/dev/null && ! command -v mvn >/dev/null; then
    need+=(maven)
  fi
  (( ${#need[@]} )) || return 0
  if ! command -v apt-get >/dev/null || [[ "$(id -u)" != 0 ]]; then
    err "missing ${need[*]}; install them (Java 11 or 17, and mvn for the first start)"
    return 1
  fi
  log "installing ${need[*]} (apt-get) ..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# Copy cassandra-all + runtime deps into .cache/cassandra/lib once. Re-fetches when pom.xml changes.
ensure_libs() {
  local want have=""
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  [[ -f "$LIB_DIR/.pom.sha256" ]] && have="$(cat "$LIB_DIR/.pom.sha256")"
  if [[ "$want" == "$have" ]] && compgen -G "$LIB_DIR/cassandra-all-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || { err "mvn not found; it is needed once to fetch Cassandra"; return 1; }
  log "fetching Cassandra jars with Maven into $LIB_DIR (once) ..."
  local tmp="$LIB_DIR.tmp.$$"
  rm -rf "$tmp"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$CACHE_DIR/mvn.log" 2>&1; then
    err "Maven failed, see $CACHE_DIR/mvn.log:"
    tail -n 30 "$CACHE_DIR/mvn.log" >&2
    rm -rf "$tmp"
    return 1
  fi
  echo "$want" >"$tmp/.pom.sha256"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  log "fetched $(ls "$LIB_DIR"/*.jar | wc -l) jars"
}

write_conf() {
  mkdir -p "$CONF_DIR/triggers" "$LOG_DIR" "$DATA_DIR"
  sed -e "s|@DATA_DIR@|$DATA_DIR|g" \
      -e "s|@NATIVE_PORT@|$PORT|g" \
      -e "s|@STORAGE_PORT@|$STORAGE_PORT|g" \
      "$YAML_TMPL" >"$CONF_FILE.tmp"
  mv "$CONF_FILE.tmp" "$CONF_FILE"
  cat >"$CONF_DIR/logback.xml" <<EOF
<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>$LOG_DIR/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>$LOG_DIR/system.log.%i.zip</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder>
      <pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="SYSTEMLOG" />
  </root>
</configuration>
EOF
}

jvm_args() {
  local jamm
  jamm="$(compgen -G "$LIB_DIR/jamm-*.jar" | head -n1 || true)"
  JVM_ARGS=(
    "-Xms$HEAP_MIN" "-Xmx$HEAP_MAX" -Xss256k
    # GC, from Cassandra's conf/jvm17-server.options (G1)
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
    -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300
    -XX:+PerfDisableSharedMem -XX:+UseThreadPriorities -XX:+ExitOnOutOfMemoryError
    -Djava.net.preferIPv4Stack=true
    # JPMS, from conf/jvm17-server.options
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    # Netty, from conf/jvm17-server.options
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    # Cassandra
    "-Dcassandra.config=file://$CONF_FILE"
    "-Dcassandra.storagedir=$DATA_DIR"
    "-Dcassandra.logdir=$LOG_DIR"
    "-Dcassandra.triggers_dir=$CONF_DIR/triggers"
    "-Dlogback.configurationFile=file://$CONF_DIR/logback.xml"
    -Dcassandra-foreground=yes
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.superuser_setup_delay_ms=0
  )
  if [[ -n "$jamm" ]]; then
    JVM_ARGS+=("-javaagent:$jamm")
  fi
  if [[ "$JMX_PORT" != "off" ]]; then
    JVM_ARGS+=("-Dcassandra.jmx.local.port=$JMX_PORT" -Dcom.sun.management.jmxremote.authenticate=false)
  fi
  if [[ -n "${CASSANDRA_JVM_OPTS:-}" ]]; then
    # shellcheck disable=SC2206  # word splitting wanted
    JVM_ARGS+=($CASSANDRA_JVM_OPTS)
  fi
}

# ---------------------------------------------------------------------------------------------
cmd_wait() {
  local start now pid
  start=$(date +%s)
  while true; do
    if cql_ready; then
      log "CQL ready on $HOST:$PORT (waited $(( $(date +%s) - start ))s)"
      return 0
    fi
    now=$(date +%s)
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      err "Cassandra process exited during start-up"
      print_log_tail
      return 1
    fi
    if (( now - start >= WAIT_TIMEOUT )); then
      err "CQL not ready on $HOST:$PORT after ${WAIT_TIMEOUT}s"
      print_log_tail
      return 1
    fi
    sleep 0.5
  done
}

cmd_start() {
  if cql_ready; then
    log "already running: CQL answers on $HOST:$PORT"
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent starts/stops (fd 9 is closed for the java child below).
  exec 9>"$LOCK_FILE"
  flock 9
  if cql_ready; then
    log "already running: CQL answers on $HOST:$PORT"
    return 0
  fi
  local pid
  pid="$(find_pid)"
  if [[ -n "$pid" ]]; then
    local running_port
    running_port="$(cat "$PORT_FILE" 2>/dev/null || true)"
    if [[ -n "$running_port" && "$running_port" != "$PORT" ]]; then
      err "this checkout's node (pid $pid) runs with CQL port $running_port, not $PORT; run 'scripts/cassandra.sh stop' first"
      return 1
    fi
    log "already starting (pid $pid), waiting for CQL ..."
    cmd_wait
    return $?
  fi
  local p
  for p in "$PORT" "$STORAGE_PORT" $([[ "$JMX_PORT" != off ]] && echo "$JMX_PORT"); do
    if port_listening "$p"; then
      err "port $p is already in use by another process (not our Cassandra); free it or set CASSANDRA_PORT / CASSANDRA_STORAGE_PORT / CASSANDRA_JMX_PORT"
      ss -Hltnp "sport = :$p" >&2 || true
      return 1
    fi
  done

  local java
  ensure_tools
  java="$(pick_java)"
  ensure_libs
  write_conf
  jvm_args

  log "starting Cassandra ($(basename "$(compgen -G "$LIB_DIR/cassandra-all-*.jar" | head -n1)" .jar), $java, heap $HEAP_MIN..$HEAP_MAX, data $DATA_DIR)"
  # Fresh logs for each start (the previous run's are kept as *.prev), so a failure tail is this run's.
  local f
  for f in system.log stdout.log; do
    if [[ -f "$LOG_DIR/$f" ]]; then mv -f "$LOG_DIR/$f" "$LOG_DIR/$f.prev"; fi
  done
  : >"$LOG_DIR/stdout.log"
  (
    cd "$CACHE_DIR"
    exec setsid "$java" "${JVM_ARGS[@]}" -cp "$LIB_DIR/*" org.apache.cassandra.service.CassandraDaemon \
      </dev/null >>"$LOG_DIR/stdout.log" 2>&1 9>&-
  ) &
  echo $! >"$PID_FILE"
  echo "$PORT" >"$PORT_FILE"
  log "pid $(cat "$PID_FILE"), log $LOG_DIR/system.log; waiting for CQL on $HOST:$PORT (timeout ${WAIT_TIMEOUT}s) ..."
  if ! cmd_wait; then
    err "start-up failed; stopping the half-started node"
    CASSANDRA_STOP_TIMEOUT=10 cmd_stop >/dev/null 2>&1 || true
    return 1
  fi
}

cmd_stop() {
  local pid i
  pid="$(find_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE" "$PORT_FILE"
    if cql_ready; then
      log "not managed by this script, but something answers CQL on $HOST:$PORT; leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping pid $pid (TERM) ..."
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < STOP_TIMEOUT * 5; i++ )); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  pid="$(find_pid)"
  if cql_ready; then
    if [[ -n "$pid" ]]; then
      log "running (pid $pid), CQL ready on $HOST:$PORT"
    else
      log "running (not started by this script), CQL ready on $HOST:$PORT"
    fi
    return 0
  fi
  if [[ -n "$pid" ]]; then
    log "process running (pid $pid) but CQL not ready on $HOST:$PORT yet"
    return 2
  fi
  log "not running"
  return 3
}

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wait) cmd_wait ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 64 ;;
esac
