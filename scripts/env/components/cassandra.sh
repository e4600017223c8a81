#!/usr/bin/env bash
# Apache Cassandra (single node) for integration tests: cassandra-all and its runtime dependencies
# resolved from Maven Central into the cache, run with Java 17 as a detached CassandraDaemon.
# Native (CQL) port 19042, storage port 17000, both on 127.0.0.1. No authentication.
# Usage: cassandra.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CASSANDRA_VERSION="5.0.6"
NATIVE_PORT=19042
STORAGE_PORT=17000
LOCAL_DC=datacenter1

CASS_HOME="$PYWR_CACHE/cassandra-$CASSANDRA_VERSION"
CASS_LIB="$CASS_HOME/lib"
RUN_DIR="$PYWR_RUN/cassandra"
PIDFILE="$RUN_DIR/cassandra.pid"
LOGFILE="$PYWR_LOGS/cassandra.log"

java_home() {
  local j
  for j in "${CASSANDRA_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/*17*; do
    [[ -n "$j" && -x "$j/bin/java" ]] && { echo "$j"; return 0; }
  done
  return 1
}

# Resolves cassandra-all with every runtime dependency into $CASS_LIB (once; cached).
install_cassandra() {
  [[ -f "$CASS_LIB/.complete" ]] && return 0
  command -v mvn >/dev/null || apt_install maven
  java_home >/dev/null || apt_install openjdk-17-jdk-headless
  log "resolving cassandra-all $CASSANDRA_VERSION and its runtime dependencies from Maven Central"
  rm -rf "$CASS_LIB"; mkdir -p "$CASS_HOME/resolve" "$CASS_LIB"
  cat > "$CASS_HOME/resolve/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.pyworkflow.retention.testenv</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$CASSANDRA_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  ( cd "$CASS_HOME/resolve" &&
    JAVA_HOME="$(java_home)" mvn -B -q -Dmaven.repo.local="$PYWR_CACHE/m2" \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$CASS_LIB" ) || die "maven could not resolve cassandra-all $CASSANDRA_VERSION"
  ls "$CASS_LIB"/cassandra-all-*.jar >/dev/null 2>&1 || die "cassandra-all jar missing after resolution"
  touch "$CASS_LIB/.complete"
}

write_config() {
  mkdir -p "$RUN_DIR"/{conf,data,commitlog,saved_caches,hints,cdc_raw,logs,triggers}
  cat > "$RUN_DIR/conf/cassandra.yaml" <<EOF
# Single-node test configuration (written by scripts/env/components/cassandra.sh)
cluster_name: pywr-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
storage_compatibility_mode: NONE
data_file_directories:
  - $RUN_DIR/data
commitlog_directory: $RUN_DIR/commitlog
saved_caches_directory: $RUN_DIR/saved_caches
hints_directory: $RUN_DIR/hints
cdc_raw_directory: $RUN_DIR/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 8MiB
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$STORAGE_PORT"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $STORAGE_PORT
ssl_storage_port: $((STORAGE_PORT + 1))
start_native_transport: true
native_transport_port: $NATIVE_PORT
endpoint_snitch: SimpleSnitch
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
snapshot_before_compaction: false
incremental_backups: false
hinted_handoff_enabled: false
memtable_heap_space: 64MiB
memtable_offheap_space: 64MiB
key_cache_size: 8MiB
counter_cache_size: 1MiB
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 8
concurrent_compactors: 1
compaction_throughput: 0MiB/s
read_request_timeout: 10000ms
write_request_timeout: 10000ms
range_request_timeout: 20000ms
request_timeout: 20000ms
disk_failure_policy: stop
commit_failure_policy: stop
materialized_views_enabled: false
sasi_indexes_enabled: false
user_defined_functions_enabled: false
tombstone_warn_threshold: 1000
tombstone_failure_threshold: 100000
EOF
  cat > "$RUN_DIR/conf/logback.xml" <<EOF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$RUN_DIR/logs/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE"/>
    <appender-ref ref="STDOUT"/>
  </root>
  <logger name="org.apache.cassandra" level="INFO"/>
</configuration>
EOF
}

# CQL round trip through the project's own Node driver.
cql_ready() {
  ( cd "$REPO_ROOT" && timeout 20 node -e '
    const { Client } = require("cassandra-driver");
    const c = new Client({ contactPoints: ["127.0.0.1"], protocolOptions: { port: Number(process.argv[1]) },
      localDataCenter: process.argv[2], socketOptions: { connectTimeout: 3000, readTimeout: 5000 } });
    c.connect().then(() => c.execute("SELECT release_version FROM system.local"))
      .then((r) => { console.log(r.first().release_version); return c.shutdown(); })
      .then(() => process.exit(0), () => process.exit(1));' "$NATIVE_PORT" "$LOCAL_DC" )
}

publish() {
  write_env cassandra \
    "CASSANDRA_CONTACT_POINTS=127.0.0.1" \
    "CASSANDRA_PORT=$NATIVE_PORT" \
    "CASSANDRA_LOCAL_DC=$LOCAL_DC" \
    "CASSANDRA_VERSION=$CASSANDRA_VERSION"
}

up() {
  if pid_alive "$PIDFILE" && cql_ready >/dev/null 2>&1; then publish; log "cassandra already running"; return 0; fi
  install_cassandra
  stop_daemon "$PIDFILE"
  write_config
  local jh; jh="$(java_home)" || die "no Java 17 found"
  local heap="${CASSANDRA_HEAP:-1G}"
  local -a jvm=(
    -Xms"$heap" -Xmx"$heap" -Xss512k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
    -XX:MaxGCPauseMillis=300 -XX:-UsePerfData
    -XX:MaxDirectMemorySize=512m -XX:+ExitOnOutOfMemoryError
    # module access Cassandra needs on Java 17 (from Cassandra's conf/jvm17-server.options)
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
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    # Cassandra itself
    -Dcassandra.config="file://$RUN_DIR/conf/cassandra.yaml"
    -Dlogback.configurationFile="$RUN_DIR/conf/logback.xml"
    -Dcassandra.logdir="$RUN_DIR/logs"
    -Dcassandra.storagedir="$RUN_DIR"
    -Dcassandra.triggers_dir="$RUN_DIR/triggers"
    -Dcassandra-foreground=yes
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=100
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.migration_task_wait_in_seconds=1
    -Dcassandra.auto_bootstrap=false
    -Dcassandra.unsafesystem=true  # no flush/fsync of system tables: fast schema changes (test data only)
    -Djava.net.preferIPv4Stack=true
  )
  start_daemon cassandra "$PIDFILE" "$LOGFILE" \
    "$jh/bin/java" "${jvm[@]}" -cp "$RUN_DIR/conf:$CASS_LIB/*" org.apache.cassandra.service.CassandraDaemon
  local start=$SECONDS
  until cql_ready >/dev/null 2>&1; do
    pid_alive "$PIDFILE" || { tail_log "$LOGFILE"; tail_log "$RUN_DIR/logs/system.log"; die "cassandra exited during start"; }
    (( SECONDS - start < 240 )) || { tail_log "$RUN_DIR/logs/system.log"; die "cassandra not answering CQL after 240 s"; }
    sleep 1
  done
  log "cassandra $CASSANDRA_VERSION answering CQL on 127.0.0.1:$NATIVE_PORT after $(( SECONDS - start )) s"
  publish
}

case "${1:-}" in
  up) up ;;
  down) stop_daemon "$PIDFILE" ;;
  status) pid_alive "$PIDFILE" && cql_ready >/dev/null ;;
  *) die "usage: $0 up|down|status" ;;
esac
