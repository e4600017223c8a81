#!/usr/bin/env python3
"""Create and read back genuine pyworkflow data through pyworkflow's OWN storage classes.

Run it with a pyworkflow virtualenv's python (PYWORKFLOW_PYTHON, PYWORKFLOW_LEGACY_PYTHON,
PYWORKFLOW_MYSQL_PYTHON from scripts/env/components/pyworkflow.sh). Every command prints exactly one
JSON document on stdout; on failure it prints {"ok": false, "error": ..., "error_type": ...} and
exits 1 (the Python traceback goes to stderr).

Commands (all take --storage '<pyworkflow storage config dict as JSON>', the dict that
pyworkflow.storage.config.config_to_storage() accepts, e.g. {"type": "sqlite", "base_path": "/x.db"}):

  version                       -> {"ok", "pyworkflow_version", "python"}
  init     --storage S          connect() once (creates/migrates the schema the way this release
                                does) and disconnect -> {"ok", "pyworkflow_version", "backend"}
  populate --storage S --spec P create data described by P (JSON, see SPEC below) -> MANIFEST
  inspect  --storage S [--run-ids a,b] [--manifest M]
                                what pyworkflow can still read -> INSPECTION (see below)
  list-runs --storage S [--status completed] [--page-size 100] [--start-time ISO] [--end-time ISO]
                                every run pyworkflow's list_runs returns (all pages)
                                -> {"ok", "runs": [{"run_id", "status", "updated_at"}], "pages",
                                    "duplicates"}  (Cassandra only looks at the 30 daily buckets
                                    before end_time/now: pass --start-time/--end-time for old runs)

--spec / --manifest accept inline JSON, @path (read a file) or - (read stdin).

SPEC (every field optional unless marked):
  {"runs": [{
      "run_id": "run_<16 hex>"            default: generated like pyworkflow ("run_" + 16 hex)
      "workflow_name": "retention_wf"
      "status": "completed"               final status (any RunStatus value)
      "created_at": ISO                   default: updated_at - 1 h (or now)
      "updated_at": ISO                   default: now (no backdating)
      "parent_run_id": "run_..."          must name a run in this spec or in the store
      "continued_from_run_id": "run_..."  links both runs like continue-as-new does
      "idempotency_key": "..."
      "events": n                         exact number of events (default: the natural count,
                                          1 + 2*checkpoints + hooks + (1 if terminal))
      "steps": n                          StepExecution records (pyworkflow's runtime never writes
                                          them; real stores have none) (default 0)
      "hooks": n                          hooks "hook_<name>_<k>", token "<run_id>:<hook_id>" (0)
      "hook_status": "pending"            status of those hooks (update_hook_status if not pending)
      "cancel": false                     set_cancellation_flag(run_id)
      "checkpoints": n                    save_checkpoint("<run_id>:<step_id>", {...}) for n step
                                          ids that also appear in the run's step events (0)
      "lifecycle": "full"                 "full": create pending, then running, then the final
                                          status through update_run_status (what a real run does);
                                          "direct": create_run with the final status only
   }],
   "schedules": [{
      "schedule_id": "sched_<12 hex>", "workflow_name": "retention_wf", "cron": "0 * * * *",
      "status": "active"|"paused"|"deleted"   ("deleted" goes through delete_schedule)
      "created_at": ISO, "updated_at": ISO, "running_run_ids": [..], "last_run_id": "..."
   }],
   "streams": [{
      "stream_id": "orders"  (required),
      "stream_run_id": "run_<16 hex>"     default stream run of its signals (default: generated;
                                          pyworkflow's emit() passes the emitting stream run's id)
      "signals": [{"signal_type": "order.created", "payload": {}, "stream_run_id": <default>
                   (an explicit null is passed on as None, as emit() outside a stream run does:
                   sqlite then fails with NOT NULL; postgres stores "__none__"),
                   "source_run_id": null, "published_at": ISO}],
      "subscriptions": [{"step_run_id": "stream_step_<name>_<12 hex>", "signal_types": [..],
                         "status": "waiting", "created_at": ISO, "stream_run_id": null,
                         "acks": [{"signal": <index into signals>, "acknowledged_at": ISO}]}],
      "scheduled_signals": [{"signal_type": "...", "payload": {}, "due_at": ISO,
                             "delivered": false, "created_at": ISO, "stream_run_id": null}]
                            (postgres/citus only)
   }]}
  What each backend supports (pyworkflow 0.4.0 unless noted, observed on the real servers):
    sqlite, file, postgres, dynamodb: everything above. dynamodb: get_signals() never finds the
      signals (it queries PK STREAM#<stream_id>, publish_signal writes STREAM_RUN#<run>).
    mysql: only with PYWORKFLOW_MYSQL_PYTHON (0.2.3; >= 0.2.4 cannot connect, H7): no streams.
    cassandra: runs, events, steps, hooks (with the shim below), cancel flags, checkpoints,
      schedules, streams and subscriptions; NOT signals (so no acks): publish_signal() restricts only
      stream_run_id, half of the partition key, without ALLOW FILTERING and Cassandra rejects it.
      Use replication_factor 1 in the storage config (single node).

MANIFEST = {"ok", "pyworkflow_version", "backend", "runs": [{"run_id", "status", "workflow_name",
  "created_at", "updated_at", "parent_run_id", "continued_from_run_id", "continued_to_run_id",
  "events", "step_ids" (referenced by its step events), "step_records", "hook_ids", "hook_tokens",
  "checkpoint_keys", "cancel"}], "schedules": [{"schedule_id", "status", "updated_at"}],
  "streams": [{"stream_id", "signals": [{"signal_id", "sequence", "stream_run_id",
  "published_at"}], "subscriptions": [{"step_run_id", "status", "created_at", "acks":
  [{"signal_id", "acknowledged_at"}]}], "scheduled_signals": [{"id", "delivered", "created_at"}]}],
  "backdated": [human-readable list of the direct writes made]}

INSPECTION = {"ok", "pyworkflow_version", "backend", "runs": {run_id: {
    "exists", "status", "created_at", "updated_at", "parent_run_id", "continued_from_run_id",
    "continued_to_run_id",
    "events" (len(get_events)), "event_types", "hooks" (len(list_hooks(run_id=...))),
    "hook_tokens": {token: bool (get_hook_by_token found it)},
    "cancel_flag" (check_cancellation_flag),
    "checkpoints": {key: bool (load_checkpoint returned data)}}},
  "schedules": {schedule_id: null | {"status", "updated_at"}}      (from --manifest)
  "streams": {stream_id: {"signals": n (get_signals), "signal_ids": [..]}} (from --manifest)}
  Tokens/keys probed = those in the manifest for that run, plus tokens found via list_hooks and
  hook.created events and "<run_id>:<step_id>" for step ids found in the run's events.

How timestamps are set (pyworkflow always stamps "now"; retention needs old data):
  * created_at of runs, hooks, events (timestamp) and schedules is passed to pyworkflow in the
    objects it stores, so pyworkflow itself writes it everywhere, including Cassandra's
    date-bucketed index tables and DynamoDB's GSI2SK. Nothing is rewritten for created_at.
  * updated_at (and completed_at when set) of runs, updated_at (and deleted_at when set) of
    schedules, published_at of signals, created_at of subscriptions, acknowledged_at of
    acknowledgments and created_at of scheduled signals are rewritten AFTER pyworkflow has written
    them, with pyworkflow disconnected, by one direct write per record in the backend's own
    representation (docs/storage.md#time):
      postgres/citus  UPDATE ... SET col = <timestamptz>          (asyncpg)
      mysql           UPDATE ... SET col = 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC, pymysql)
      sqlite          UPDATE ... SET col = '<isoformat with +00:00>' (sqlite3)
      cassandra       UPDATE <table> SET col = <timestamp> WHERE <primary key> (cassandra-driver)
      dynamodb        UpdateItem SET col = '<isoformat>' (runs also GSI1SK = '<status>#<iso>',
                      exactly what update_run_status writes) (boto3)
      file            JSON rewrite of the record's file under the same filelock pyworkflow uses
                      (.locks/<run_id>.lock, schedule_<id>.lock, signals_<stream>.lock,
                      sub_<stream>_<step_run_id>.lock; acknowledgments have none), temp + rename
    Only records whose spec gives the timestamp are rewritten; "backdated" in the manifest lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect as pyinspect
import json
import os
import sys
import tempfile
import traceback
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as pkg_version
from typing import Any

# pyworkflow logs through loguru at INFO (every migration step); keep stderr for warnings and errors
os.environ.setdefault("LOGURU_LEVEL", "WARNING")
# aiomysql reports every "CREATE TABLE IF NOT EXISTS" of an existing table as a Python warning
warnings.filterwarnings("ignore", module=r"aiomysql(\..*)?$")

TERMINAL = {"completed", "failed", "cancelled", "continued_as_new", "interrupted"}


# --------------------------------------------------------------------------------------------------
# helpers


def pyworkflow_version() -> str:
    return pkg_version("pyworkflow-engine")


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # the Cassandra driver returns naive UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def load_json_arg(value: str | None) -> Any:
    if value is None:
        return None
    if value == "-":
        return json.load(sys.stdin)
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(value)


def det_hex(*parts: str, n: int = 16) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:n]


def supports_kwarg(fn: Any, name: str) -> bool:
    try:
        return name in pyinspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------
# compatibility shim for pyworkflow's Cassandra backend

SHIMS: list[str] = []


def install_cassandra_shim() -> None:
    """Quote the reserved CQL keyword `token` where pyworkflow uses it as a column name.

    pyworkflow's Cassandra backend (every release checked: 0.2.3, 0.2.6, 0.4.0) declares and queries
    a column named `token` unquoted (hooks.token, hooks_by_token.token). TOKEN is a reserved CQL
    keyword, so a real Cassandra rejects `CREATE TABLE hooks (... token TEXT ...)` with a syntax
    error and connect() fails before half of the schema exists. The column pyworkflow intends is
    named token; "token" (quoted) is exactly that column. This shim rewrites the identifier in every
    CQL string the driver sends (SimpleStatement, plain strings, prepared statements, batch entries);
    nothing else changes. The calls to token(...) (the function) are left alone. Disable with
    --no-shims to observe pyworkflow's unmodified behaviour.
    """
    import re

    from cassandra import cluster, query

    if getattr(cluster.Session, "_pywr_shimmed", False):
        return
    pattern = re.compile(r'(?<!["\w])token(?!\s*\()(?!["\w])')

    def fix(cql: Any) -> Any:
        return pattern.sub('"token"', cql) if isinstance(cql, str) else cql

    orig_init = query.SimpleStatement.__init__

    def simple_init(self: Any, query_string: str, *a: Any, **kw: Any) -> None:
        orig_init(self, fix(query_string), *a, **kw)

    query.SimpleStatement.__init__ = simple_init
    for name in ("execute", "execute_async", "prepare"):
        orig = getattr(cluster.Session, name)

        def wrapper(self: Any, q: Any, *a: Any, _orig: Any = orig, **kw: Any) -> Any:
            return _orig(self, fix(q), *a, **kw)

        setattr(cluster.Session, name, wrapper)
    orig_add = query.BatchStatement.add

    def batch_add(self: Any, statement: Any, *a: Any, **kw: Any) -> Any:
        return orig_add(self, fix(statement), *a, **kw)

    query.BatchStatement.add = batch_add
    cluster.Session._pywr_shimmed = True
    SHIMS.append("cassandra: reserved keyword `token` quoted as a column name in pyworkflow's CQL")


def make_storage(config: dict) -> Any:
    from pyworkflow.storage.config import config_to_storage

    return config_to_storage(dict(config))


# --------------------------------------------------------------------------------------------------
# backdating: direct writes in each backend's own representation


class Backdater:
    """Collects timestamp rewrites during populate and applies them afterwards."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.kind = config.get("type", "file")
        self.ops: list[tuple[str, dict]] = []

    def add(self, what: str, **kw: Any) -> None:
        self.ops.append((what, kw))

    def describe(self) -> list[str]:
        out = []
        for what, kw in self.ops:
            key = ",".join(f"{k}={v}" for k, v in kw.items() if k not in ("ts",) and not isinstance(v, datetime))
            out.append(f"{self.kind}: {what}({key}) -> {iso(kw['ts'])}")
        return out

    async def apply(self) -> None:
        if not self.ops:
            return
        fn = {
            "postgres": self._postgres,
            "citus": self._postgres,
            "mysql": self._mysql,
            "sqlite": self._sqlite,
            "file": self._file,
            "cassandra": self._cassandra,
            "dynamodb": self._dynamodb,
        }.get(self.kind)
        if fn is None:
            raise ValueError(f"cannot backdate timestamps in a {self.kind!r} store")
        res = fn()
        if asyncio.iscoroutine(res):
            await res

    # SQL statements shared by the SQL dialects: {ts} = the new timestamp, {a1}.. = key columns
    SQL = {
        "run": ("UPDATE workflow_runs SET updated_at = {ts}, completed_at = CASE WHEN completed_at IS NULL "
                "THEN NULL ELSE {ts} END WHERE run_id = {a1}", ("run_id",)),
        "schedule": ("UPDATE schedules SET updated_at = {ts}, deleted_at = CASE WHEN deleted_at IS NULL "
                     "THEN NULL ELSE {ts} END WHERE schedule_id = {a1}", ("schedule_id",)),
        "signal": ("UPDATE signals SET published_at = {ts} WHERE signal_id = {a1}", ("signal_id",)),
        "subscription": ("UPDATE stream_subscriptions SET created_at = {ts} WHERE stream_id = {a1} AND step_run_id = {a2}",
                         ("stream_id", "step_run_id")),
        "ack": ("UPDATE signal_acknowledgments SET acknowledged_at = {ts} WHERE signal_id = {a1} AND step_run_id = {a2}",
                ("signal_id", "step_run_id")),
        "scheduled_signal": ("UPDATE scheduled_signals SET created_at = {ts} WHERE id = {a1}", ("id",)),
    }

    def _sql_rows(self, placeholder: Any, render_ts: Any, ts_type: str) -> list[tuple[str, tuple]]:
        """(sql, args) per op; placeholder(n) renders the n-th (1-based) positional parameter;
        timestamps are bound as CAST(<param> AS ts_type) (a bare parameter inside CASE is text)."""
        import re

        rows = []
        for what, kw in self.ops:
            template, names = self.SQL[what]
            values = {"ts": render_ts(kw["ts"]), **{f"a{i + 1}": kw[n] for i, n in enumerate(names)}}
            args: list[Any] = []

            def sub(m: re.Match, args: list[Any] = args, values: dict = values) -> str:
                args.append(values[m.group(1)])
                return f"CAST({placeholder(len(args))} AS {ts_type})" if m.group(1) == "ts" else placeholder(len(args))

            sql = re.sub(r"\{(\w+)\}", sub, template)
            rows.append((sql, tuple(args)))
        return rows

    async def _postgres(self) -> None:
        import asyncpg

        c = self.config
        if c.get("dsn"):
            conn = await asyncpg.connect(c["dsn"])
        else:
            conn = await asyncpg.connect(
                host=c.get("host", "localhost"), port=int(c.get("port", 5432)), user=c.get("user", "pyworkflow"),
                password=c.get("password") or None, database=c.get("database", "pyworkflow"),
            )
        try:
            async with conn.transaction():
                for sql, args in self._sql_rows(lambda n: f"${n}", lambda ts: ts, "timestamptz"):
                    status = await conn.execute(sql, *args)
                    if status.endswith(" 0"):
                        raise RuntimeError(f"backdating matched no row: {sql} {args}")
        finally:
            await conn.close()

    def _mysql(self) -> None:
        import pymysql

        c = self.config
        conn = pymysql.connect(
            host=c.get("host", "localhost"), port=int(c.get("port", 3306)), user=c.get("user", "pyworkflow"),
            password=c.get("password", ""), database=c.get("database", "pyworkflow"), autocommit=False,
        )
        try:
            with conn.cursor() as cur:
                for sql, args in self._sql_rows(
                    lambda n: "%s", lambda ts: ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), "DATETIME(6)"
                ):
                    cur.execute(sql, args)
            conn.commit()
        finally:
            conn.close()

    def _sqlite(self) -> None:
        import sqlite3

        conn = sqlite3.connect(self.config.get("base_path") or "./pyworkflow_data/pyworkflow.db", timeout=30)
        try:
            for sql, args in self._sql_rows(lambda n: "?", lambda ts: ts.astimezone(UTC).isoformat(), "TEXT"):
                if conn.execute(sql, args).rowcount == 0:
                    raise RuntimeError(f"backdating matched no row: {sql} {args}")
            conn.commit()
        finally:
            conn.close()

    def _file(self) -> None:
        from filelock import FileLock

        base = self.config.get("base_path") or "./workflow_data"
        locks = os.path.join(base, ".locks")

        def rewrite(path: str, lock_name: str | None, mutate: Any) -> None:
            lock = FileLock(os.path.join(locks, lock_name)) if lock_name else None
            if lock:
                lock.acquire()
            try:
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
                mutate(data)
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".backdate-")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(data, indent=2))
                os.replace(tmp, path)
            finally:
                if lock:
                    lock.release()

        for what, kw in self.ops:
            ts = kw["ts"].astimezone(UTC).isoformat()
            if what == "run":
                def m(d: dict, ts: str = ts) -> None:
                    d["updated_at"] = ts
                    if d.get("completed_at"):
                        d["completed_at"] = ts
                rewrite(os.path.join(base, "runs", f"{kw['run_id']}.json"), f"{kw['run_id']}.lock", m)
            elif what == "schedule":
                def m(d: dict, ts: str = ts) -> None:
                    d["updated_at"] = ts
                    if d.get("deleted_at"):
                        d["deleted_at"] = ts
                rewrite(os.path.join(base, "schedules", f"{kw['schedule_id']}.json"), f"schedule_{kw['schedule_id']}.lock", m)
            elif what == "signal":
                def m(d: list, ts: str = ts, sid: str = kw["signal_id"]) -> None:
                    hits = [s for s in d if s.get("signal_id") == sid]
                    if not hits:
                        raise RuntimeError(f"signal {sid} not found")
                    for s in hits:
                        s["published_at"] = ts
                rewrite(os.path.join(base, "signals", f"{kw['stream_id']}.json"), f"signals_{kw['stream_id']}.lock", m)
            elif what == "subscription":
                rewrite(
                    os.path.join(base, "subscriptions", f"{kw['stream_id']}__{kw['step_run_id']}.json"),
                    f"sub_{kw['stream_id']}_{kw['step_run_id']}.lock",
                    lambda d, ts=ts: d.__setitem__("created_at", ts),
                )
            elif what == "ack":
                rewrite(
                    os.path.join(base, "acknowledgments", f"{kw['signal_id']}__{kw['step_run_id']}.json"),
                    None,
                    lambda d, ts=ts: d.__setitem__("acknowledged_at", ts),
                )
            else:
                raise ValueError(f"file store has no {what}")

    def _cassandra(self) -> None:
        from cassandra import ConsistencyLevel
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import Cluster
        from cassandra.query import SimpleStatement

        c = self.config
        auth = None
        if c.get("username") and c.get("password"):
            auth = PlainTextAuthProvider(username=c["username"], password=c["password"])
        cluster = Cluster(
            contact_points=c.get("contact_points", ["localhost"]), port=int(c.get("port", 9042)),
            auth_provider=auth, protocol_version=4,
        )
        cl = getattr(ConsistencyLevel, str(c.get("write_consistency", "LOCAL_QUORUM")).upper())
        try:
            session = cluster.connect(c.get("keyspace", "pyworkflow"))

            def run(cql: str, args: tuple) -> Any:
                return session.execute(SimpleStatement(cql, consistency_level=cl), args)

            for what, kw in self.ops:
                ts = kw["ts"]
                if what == "run":
                    row = run("SELECT completed_at FROM workflow_runs WHERE run_id = %s", (kw["run_id"],)).one()
                    if row is None:
                        raise RuntimeError(f"run {kw['run_id']} not found")
                    if row.completed_at is not None:
                        run("UPDATE workflow_runs SET updated_at = %s, completed_at = %s WHERE run_id = %s", (ts, ts, kw["run_id"]))
                    else:
                        run("UPDATE workflow_runs SET updated_at = %s WHERE run_id = %s", (ts, kw["run_id"]))
                elif what == "schedule":
                    run("UPDATE schedules SET updated_at = %s WHERE schedule_id = %s", (ts, kw["schedule_id"]))
                elif what == "signal":
                    run(
                        "UPDATE signals SET published_at = %s WHERE stream_id = %s AND stream_run_id = %s AND sequence = %s",
                        (ts, kw["stream_id"], kw["stream_run_id"], kw["sequence"]),
                    )
                elif what == "subscription":
                    run("UPDATE stream_subscriptions SET created_at = %s WHERE stream_id = %s AND step_run_id = %s",
                        (ts, kw["stream_id"], kw["step_run_id"]))
                elif what == "ack":
                    run("UPDATE signal_acknowledgments SET acknowledged_at = %s WHERE signal_id = %s AND step_run_id = %s",
                        (ts, kw["signal_id"], kw["step_run_id"]))
                else:
                    raise ValueError(f"cassandra store has no {what}")
        finally:
            cluster.shutdown()

    def _dynamodb(self) -> None:
        import boto3

        c = self.config
        client = boto3.client("dynamodb", region_name=c.get("region", "us-east-1"), endpoint_url=c.get("endpoint_url"))
        table = c.get("table_name", "pyworkflow")

        def update(key: tuple[str, str], expr: str, values: dict, names: dict | None = None) -> None:
            kw: dict[str, Any] = {
                "TableName": table,
                "Key": {"PK": {"S": key[0]}, "SK": {"S": key[1]}},
                "UpdateExpression": expr,
                "ExpressionAttributeValues": values,
                "ConditionExpression": "attribute_exists(PK)",
            }
            if names:
                kw["ExpressionAttributeNames"] = names
            client.update_item(**kw)

        for what, kw in self.ops:
            ts = kw["ts"].astimezone(UTC).isoformat()
            if what == "run":
                key = (f"RUN#{kw['run_id']}", "#METADATA")
                item = client.get_item(TableName=table, Key={"PK": {"S": key[0]}, "SK": {"S": key[1]}}, ConsistentRead=True).get("Item")
                if item is None:
                    raise RuntimeError(f"run {kw['run_id']} not found")
                status = item["status"]["S"]
                expr = "SET updated_at = :t, GSI1SK = :g"
                values = {":t": {"S": ts}, ":g": {"S": f"{status}#{ts}"}}
                if "completed_at" in item:
                    expr += ", completed_at = :t"
                update(key, expr, values)
            elif what == "schedule":
                update((f"SCHEDULE#{kw['schedule_id']}", "#METADATA"), "SET updated_at = :t", {":t": {"S": ts}})
            elif what == "signal":
                update((f"STREAM_RUN#{kw['stream_run_id']}", f"SIGNAL#{kw['sequence']:08d}"), "SET published_at = :t", {":t": {"S": ts}})
            elif what == "subscription":
                update((f"STREAMSUB#{kw['stream_id']}", f"STEP#{kw['step_run_id']}"), "SET created_at = :t", {":t": {"S": ts}})
            elif what == "ack":
                update((f"SIGACK#{kw['signal_id']}", f"STEP#{kw['step_run_id']}"), "SET acknowledged_at = :t", {":t": {"S": ts}})
            else:
                raise ValueError(f"dynamodb store has no {what}")


# --------------------------------------------------------------------------------------------------
# populate


def build_events(run: dict, run_id: str, workflow_name: str, status: str, step_ids: list[str],
                 hook_ids: list[str], created: datetime, ended: datetime) -> list[Any]:
    """A plausible event history: started, step/hook events, terminal event; exactly run['events'] long."""
    from pyworkflow.engine.events import Event, EventType

    ckpt_steps = step_ids
    natural: list[tuple[EventType, dict]] = [
        (EventType.WORKFLOW_STARTED, {"workflow_name": workflow_name, "args": "[]", "kwargs": "{}", "metadata": {}}),
    ]
    for sid in ckpt_steps:
        natural.append((EventType.STEP_STARTED, {"step_id": sid, "step_name": "process", "args": "[]", "kwargs": "{}", "attempt": 1}))
    for hid in hook_ids:
        natural.append((EventType.HOOK_CREATED, {"hook_id": hid, "url": "", "token": f"{run_id}:{hid}", "expires_at": None, "name": "approval"}))
    for sid in ckpt_steps:
        natural.append((EventType.STEP_COMPLETED, {"step_id": sid, "result": "null", "step_name": "process"}))
    terminal = {
        "completed": (EventType.WORKFLOW_COMPLETED, {"result": "null", "workflow_name": workflow_name}),
        "failed": (EventType.WORKFLOW_FAILED, {"error": "boom", "error_type": "RuntimeError", "traceback": None}),
        "cancelled": (EventType.WORKFLOW_CANCELLED, {"reason": "test", "cleanup_completed": True}),
        "continued_as_new": (EventType.WORKFLOW_CONTINUED_AS_NEW, {"new_run_id": None, "args": "[]", "kwargs": "{}", "reason": None}),
        "interrupted": (EventType.WORKFLOW_INTERRUPTED, {"error": "worker lost", "recovery_attempt": 1}),
    }.get(status)
    wanted = run.get("events")
    if wanted is None:
        wanted = len(natural) + (1 if terminal else 0)
    wanted = int(wanted)
    body = list(natural)
    k = 0
    while len(body) + (1 if terminal else 0) < wanted:  # filler: more steps
        sid = f"step_extra_{det_hex(run_id, 'extra', str(k))}"
        body.append((EventType.STEP_STARTED, {"step_id": sid, "step_name": "extra", "args": "[]", "kwargs": "{}", "attempt": 1}))
        body.append((EventType.STEP_COMPLETED, {"step_id": sid, "result": "null", "step_name": "extra"}))
        k += 1
    if terminal and wanted >= 2:
        body = body[: wanted - 1] + [terminal]
    else:
        body = body[:wanted]
    span = max((ended - created).total_seconds(), 0.0)
    out = []
    for i, (etype, data) in enumerate(body):
        ts = created + timedelta(seconds=span * i / max(len(body) - 1, 1))
        out.append(Event(run_id=run_id, type=etype, data=data, timestamp=ts))
    return out


def topo_order(runs: list[dict]) -> list[dict]:
    by_id = {r["run_id"]: r for r in runs}
    done: set[str] = set()
    out: list[dict] = []

    def visit(r: dict, stack: set[str]) -> None:
        if r["run_id"] in done:
            return
        if r["run_id"] in stack:
            raise ValueError(f"parent cycle at {r['run_id']}")
        p = r.get("parent_run_id")
        if p and p in by_id:
            visit(by_id[p], stack | {r["run_id"]})
        done.add(r["run_id"])
        out.append(r)

    for r in runs:
        visit(r, set())
    return out


async def populate(config: dict, spec: dict) -> dict:
    from pyworkflow.storage.schemas import (
        Hook, HookStatus, RunStatus, Schedule, ScheduleSpec, ScheduleStatus, StepExecution, StepStatus, WorkflowRun,
    )

    now = datetime.now(UTC)
    storage = make_storage(config)
    await storage.connect()
    back = Backdater(config)
    manifest_runs: list[dict] = []
    manifest_schedules: list[dict] = []
    manifest_streams: list[dict] = []
    try:
        runs = [dict(r) for r in spec.get("runs", [])]
        for r in runs:
            r.setdefault("run_id", f"run_{uuid.uuid4().hex[:16]}")
        depth: dict[str, int] = {}
        for r in topo_order(runs):
            run_id = r["run_id"]
            status = r.get("status", "completed")
            wf = r.get("workflow_name", "retention_wf")
            updated = parse_ts(r.get("updated_at"))
            created = parse_ts(r.get("created_at")) or ((updated or now) - timedelta(hours=1))
            parent = r.get("parent_run_id")
            if parent and parent not in depth:
                prun = await storage.get_run(parent)
                depth[parent] = prun.nesting_depth if prun else 0
            depth[run_id] = depth[parent] + 1 if parent else 0
            lifecycle = r.get("lifecycle", "full")
            wr = WorkflowRun(
                run_id=run_id, workflow_name=wf,
                status=RunStatus.PENDING if lifecycle == "full" else RunStatus(status),
                created_at=created, updated_at=created if lifecycle == "full" else (updated or now),
                started_at=created, input_args="[]", input_kwargs="{}",
                idempotency_key=r.get("idempotency_key"), parent_run_id=parent, nesting_depth=depth[run_id],
                continued_from_run_id=r.get("continued_from_run_id"),
            )
            await storage.create_run(wr)
            if lifecycle == "full":
                await storage.update_run_status(run_id, RunStatus.RUNNING)

            n_ckpt = int(r.get("checkpoints", 0))
            n_hooks = int(r.get("hooks", 0))
            step_ids = [f"step_process_{det_hex(run_id, 'step', str(i))}" for i in range(n_ckpt)]
            hook_ids = [f"hook_approval_{k + 1}" for k in range(n_hooks)]
            events = build_events(r, run_id, wf, status, step_ids, hook_ids, created, updated or now)
            for ev in events:
                await storage.record_event(ev)
            for hid in hook_ids:
                await storage.create_hook(Hook(hook_id=hid, run_id=run_id, token=f"{run_id}:{hid}", name="approval", created_at=created))
                hs = r.get("hook_status", "pending")
                if hs != "pending":
                    await storage.update_hook_status(hid, HookStatus(hs), payload=json.dumps({"ok": True}), run_id=run_id)
            step_records = []
            for i in range(int(r.get("steps", 0))):
                sid = f"step_record_{det_hex(run_id, 'record', str(i))}"
                await storage.create_step(StepExecution(step_id=sid, run_id=run_id, step_name="record", status=StepStatus.COMPLETED, created_at=created))
                step_records.append(sid)
            ckpt_keys = []
            for i, sid in enumerate(step_ids):
                key = f"{run_id}:{sid}"
                await storage.save_checkpoint(key, {"cursor": i, "run_id": run_id})
                ckpt_keys.append(key)
            if r.get("cancel"):
                await storage.set_cancellation_flag(run_id)
            if lifecycle == "full" and status not in ("pending", "running"):
                await storage.update_run_status(
                    run_id, RunStatus(status),
                    result="null" if status == "completed" else None,
                    error="boom" if status == "failed" else None,
                )
            manifest_runs.append({
                "run_id": run_id, "status": status, "workflow_name": wf,
                "created_at": iso(created), "updated_at": None, "parent_run_id": parent,
                "continued_from_run_id": r.get("continued_from_run_id"), "continued_to_run_id": None,
                "events": len(events),
                "step_ids": sorted({e.data["step_id"] for e in events if "step_id" in e.data}),
                "step_records": step_records, "hook_ids": hook_ids,
                "hook_tokens": [f"{run_id}:{h}" for h in hook_ids], "checkpoint_keys": ckpt_keys,
                "cancel": bool(r.get("cancel")),
            })
        # continue-as-new links (the predecessor's continued_to_run_id), like the runtime does
        by_id = {m["run_id"]: m for m in manifest_runs}
        for r in runs:
            prev = r.get("continued_from_run_id")
            if prev:
                await storage.update_run_continuation(prev, r["run_id"])
                if prev in by_id:
                    by_id[prev]["continued_to_run_id"] = r["run_id"]
        for r in runs:
            if r.get("updated_at"):
                back.add("run", run_id=r["run_id"], ts=parse_ts(r["updated_at"]))

        for s in spec.get("schedules", []):
            sid = s.get("schedule_id", f"sched_{uuid.uuid4().hex[:12]}")
            created = parse_ts(s.get("created_at")) or now
            st = s.get("status", "active")
            sched = Schedule(
                schedule_id=sid, workflow_name=s.get("workflow_name", "retention_wf"),
                spec=ScheduleSpec(cron=s.get("cron", "0 * * * *")),
                status=ScheduleStatus.PAUSED if st == "paused" else ScheduleStatus.ACTIVE,
                created_at=created, updated_at=created,
                next_run_time=(now + timedelta(hours=1)) if st == "active" else None,
                running_run_ids=list(s.get("running_run_ids", [])), last_run_id=s.get("last_run_id"),
            )
            await storage.create_schedule(sched)
            if st == "deleted":
                await storage.delete_schedule(sid)
            if s.get("updated_at"):
                back.add("schedule", schedule_id=sid, ts=parse_ts(s["updated_at"]))
            manifest_schedules.append({"schedule_id": sid, "status": st, "updated_at": iso(parse_ts(s.get("updated_at")))})

        for st in spec.get("streams", []):
            stream_id = st["stream_id"]
            await storage.create_stream(stream_id, st.get("metadata"))
            m_signals = []
            default_srun = st.get("stream_run_id", f"run_{uuid.uuid4().hex[:16]}")
            for sig in st.get("signals", []):
                signal_id = sig.get("signal_id", f"sig_{uuid.uuid4().hex[:16]}")
                sig = {"stream_run_id": default_srun, **sig}
                kw: dict[str, Any] = {"source_run_id": sig.get("source_run_id"), "metadata": sig.get("metadata")}
                if supports_kwarg(storage.publish_signal, "stream_run_id"):
                    kw["stream_run_id"] = sig["stream_run_id"]
                seq = await storage.publish_signal(signal_id, stream_id, sig.get("signal_type", "test.signal"), sig.get("payload", {}), **kw)
                m_signals.append({"signal_id": signal_id, "sequence": seq, "stream_run_id": sig.get("stream_run_id"), "published_at": iso(parse_ts(sig.get("published_at")))})
                if sig.get("published_at"):
                    back.add("signal", signal_id=signal_id, stream_id=stream_id, stream_run_id=sig.get("stream_run_id"), sequence=seq, ts=parse_ts(sig["published_at"]))
            m_subs = []
            for sub in st.get("subscriptions", []):
                step_run_id = sub.get("step_run_id", f"stream_step_consumer_{uuid.uuid4().hex[:12]}")
                kw = {}
                if sub.get("stream_run_id") is not None and supports_kwarg(storage.register_stream_subscription, "stream_run_id"):
                    kw["stream_run_id"] = sub["stream_run_id"]
                await storage.register_stream_subscription(stream_id, step_run_id, sub.get("signal_types", ["test.signal"]), **kw)
                if sub.get("status", "waiting") != "waiting":
                    await storage.update_subscription_status(stream_id, step_run_id, sub["status"])
                if sub.get("created_at"):
                    back.add("subscription", stream_id=stream_id, step_run_id=step_run_id, ts=parse_ts(sub["created_at"]))
                acks = []
                for ack in sub.get("acks", []):
                    signal_id = m_signals[int(ack["signal"])]["signal_id"]
                    await storage.acknowledge_signal(signal_id, step_run_id)
                    acks.append({"signal_id": signal_id, "acknowledged_at": iso(parse_ts(ack.get("acknowledged_at")))})
                    if ack.get("acknowledged_at"):
                        back.add("ack", signal_id=signal_id, step_run_id=step_run_id, ts=parse_ts(ack["acknowledged_at"]))
                m_subs.append({"step_run_id": step_run_id, "status": sub.get("status", "waiting"), "created_at": iso(parse_ts(sub.get("created_at"))), "acks": acks})
            m_sched = []
            for ss in st.get("scheduled_signals", []):
                sched_id = await storage.schedule_signal(
                    stream_id=stream_id, signal_type=ss.get("signal_type", "test.signal"), payload=ss.get("payload", {}),
                    due_at=parse_ts(ss.get("due_at")) or now, stream_run_id=ss.get("stream_run_id"),
                )
                if ss.get("delivered"):
                    await storage.mark_scheduled_signal_delivered(sched_id)
                if ss.get("created_at"):
                    back.add("scheduled_signal", id=sched_id, ts=parse_ts(ss["created_at"]))
                m_sched.append({"id": sched_id, "delivered": bool(ss.get("delivered")), "created_at": iso(parse_ts(ss.get("created_at")))})
            manifest_streams.append({"stream_id": stream_id, "signals": m_signals, "subscriptions": m_subs, "scheduled_signals": m_sched})
    finally:
        await storage.disconnect()

    await back.apply()
    # report what pyworkflow now reads as updated_at (also for runs that were not backdated)
    storage = make_storage(config)
    await storage.connect()
    try:
        for m in manifest_runs:
            got = await storage.get_run(m["run_id"])
            m["updated_at"] = iso(got.updated_at) if got else None
    finally:
        await storage.disconnect()
    return {
        "ok": True, "pyworkflow_version": pyworkflow_version(), "backend": config.get("type"),
        "runs": manifest_runs, "schedules": manifest_schedules, "streams": manifest_streams,
        "backdated": back.describe(),
    }


# --------------------------------------------------------------------------------------------------
# inspect / list-runs


async def inspect_store(config: dict, run_ids: list[str], manifest: dict | None) -> dict:
    storage = make_storage(config)
    await storage.connect()
    probes: dict[str, dict[str, set[str]]] = {}
    for rid in run_ids:
        probes.setdefault(rid, {"tokens": set(), "keys": set()})
    for m in (manifest or {}).get("runs", []):
        p = probes.setdefault(m["run_id"], {"tokens": set(), "keys": set()})
        p["tokens"].update(m.get("hook_tokens", []))
        p["keys"].update(m.get("checkpoint_keys", []))
    out_runs: dict[str, Any] = {}
    out_sched: dict[str, Any] = {}
    out_streams: dict[str, Any] = {}
    try:
        for rid, p in probes.items():
            run = await storage.get_run(rid)
            events = await storage.get_events(rid)
            hooks = await storage.list_hooks(run_id=rid, limit=10_000)
            tokens = set(p["tokens"]) | {h.token for h in hooks}
            keys = set(p["keys"])
            for e in events:
                if e.type.value == "hook.created" and e.data.get("token"):
                    tokens.add(e.data["token"])
                if e.data.get("step_id"):
                    keys.add(f"{rid}:{e.data['step_id']}")
            tok_res = {}
            for t in sorted(tokens):
                tok_res[t] = (await storage.get_hook_by_token(t)) is not None
            key_res = {}
            for k in sorted(keys):
                key_res[k] = (await storage.load_checkpoint(k)) is not None
            out_runs[rid] = {
                "exists": run is not None,
                "status": run.status.value if run else None,
                "created_at": iso(run.created_at) if run else None,
                "updated_at": iso(run.updated_at) if run else None,
                "parent_run_id": run.parent_run_id if run else None,
                "continued_from_run_id": getattr(run, "continued_from_run_id", None) if run else None,
                "continued_to_run_id": getattr(run, "continued_to_run_id", None) if run else None,
                "events": len(events),
                "event_types": [e.type.value for e in events],
                "hooks": len(hooks),
                "hook_tokens": tok_res,
                "cancel_flag": bool(await storage.check_cancellation_flag(rid)),
                "checkpoints": key_res,
            }
        for s in (manifest or {}).get("schedules", []):
            sch = await storage.get_schedule(s["schedule_id"])
            out_sched[s["schedule_id"]] = None if sch is None else {"status": sch.status.value, "updated_at": iso(sch.updated_at)}
        for st in (manifest or {}).get("streams", []):
            sigs = await storage.get_signals(st["stream_id"], after_sequence=0, limit=100_000)
            out_streams[st["stream_id"]] = {"signals": len(sigs), "signal_ids": sorted(s["signal_id"] for s in sigs)}
    finally:
        await storage.disconnect()
    return {"ok": True, "pyworkflow_version": pyworkflow_version(), "backend": config.get("type"),
            "runs": out_runs, "schedules": out_sched, "streams": out_streams}


async def list_runs(config: dict, status: str | None, page_size: int, start: str | None, end: str | None) -> dict:
    """Every run pyworkflow's list_runs pages through. Stops when a page brings no new run or the
    cursor repeats (pyworkflow's Cassandra list_runs without a status returns the same runs page
    after page); such repeats are counted in "duplicates", never listed twice."""
    from pyworkflow.storage.schemas import RunStatus

    storage = make_storage(config)
    await storage.connect()
    out: list[dict] = []
    seen: set[str] = set()
    duplicates = 0
    pages = 0
    try:
        cursor = None
        cursors: set[str] = set()
        while True:
            runs, cursor = await storage.list_runs(
                status=RunStatus(status) if status else None, start_time=parse_ts(start), end_time=parse_ts(end),
                limit=page_size, cursor=cursor,
            )
            pages += 1
            new = 0
            for r in runs:
                if r.run_id in seen:
                    duplicates += 1
                    continue
                seen.add(r.run_id)
                new += 1
                out.append({"run_id": r.run_id, "status": r.status.value, "updated_at": iso(r.updated_at)})
            if not cursor or not runs or new == 0 or cursor in cursors:
                break
            cursors.add(cursor)
    finally:
        await storage.disconnect()
    return {"ok": True, "pyworkflow_version": pyworkflow_version(), "backend": config.get("type"), "runs": out,
            "pages": pages, "duplicates": duplicates}


async def init_store(config: dict) -> dict:
    storage = make_storage(config)
    await storage.connect()
    await storage.disconnect()
    return {"ok": True, "pyworkflow_version": pyworkflow_version(), "backend": config.get("type")}


# --------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["version", "init", "populate", "inspect", "list-runs"])
    ap.add_argument("--storage", help="pyworkflow storage config dict (JSON, @file or -)")
    ap.add_argument("--spec", help="populate spec (JSON, @file or -)")
    ap.add_argument("--manifest", help="populate output to probe (JSON, @file or -)")
    ap.add_argument("--run-ids", default="", help="comma-separated run ids to inspect")
    ap.add_argument("--status", help="list-runs: only this status")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--start-time", help="list-runs: start_time filter (ISO)")
    ap.add_argument("--end-time", help="list-runs: end_time filter (ISO)")
    ap.add_argument("--no-shims", action="store_true", help="run pyworkflow unmodified (see install_cassandra_shim)")
    args = ap.parse_args(argv)
    try:
        if args.command == "version":
            result: dict = {"ok": True, "pyworkflow_version": pyworkflow_version(), "python": sys.version.split()[0]}
        else:
            config = load_json_arg(args.storage)
            if not isinstance(config, dict) or "type" not in config:
                raise ValueError("--storage must be a pyworkflow storage config object with a 'type'")
            if config["type"] == "cassandra" and not args.no_shims:
                install_cassandra_shim()
            if args.command == "init":
                result = asyncio.run(init_store(config))
            elif args.command == "populate":
                result = asyncio.run(populate(config, load_json_arg(args.spec) or {}))
            elif args.command == "inspect":
                ids = [x for x in args.run_ids.split(",") if x]
                result = asyncio.run(inspect_store(config, ids, load_json_arg(args.manifest)))
            else:
                result = asyncio.run(list_runs(config, args.status, args.page_size, args.start_time, args.end_time))
    except Exception as exc:  # noqa: BLE001 - reported as JSON for the calling test
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"ok": False, "error": str(exc), "error_type": type(exc).__name__}))
        return 1
    if SHIMS:
        result["shims"] = SHIMS
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
