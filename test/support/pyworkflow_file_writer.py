#!/usr/bin/env python3
"""A live pyworkflow writer for concurrency tests of the file store: pyworkflow's own FileStorageBackend
appends events to, and creates hooks for, the given runs, and publishes signals, until a stop file
appears. Prints one JSON report of everything it wrote (so the test can check nothing was lost).

Usage: pyworkflow_file_writer.py --base-path DIR --runs run_a,run_b --streams s1,s2 --stop-file PATH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import uuid

os.environ.setdefault("LOGURU_LEVEL", "WARNING")

from pyworkflow.engine.events import Event, EventType  # noqa: E402
from pyworkflow.storage.file import FileStorageBackend  # noqa: E402
from pyworkflow.storage.schemas import Hook  # noqa: E402


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-path", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--streams", default="")
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    storage = FileStorageBackend(base_path=args.base_path)
    runs = [r for r in args.runs.split(",") if r]
    streams = [s for s in args.streams.split(",") if s]
    rnd = random.Random(args.seed)
    events: dict[str, int] = {}
    hooks: list[str] = []
    signals: list[dict] = []
    ops = 0
    while not os.path.exists(args.stop_file):
        run_id = rnd.choice(runs)
        kind = rnd.random()
        if kind < 0.6:
            await storage.record_event(Event(run_id=run_id, type=EventType.STEP_COMPLETED, data={"op": ops}))
            events[run_id] = events.get(run_id, 0) + 1
        elif kind < 0.85 or not streams:
            hook_id = f"hook_live_{ops}"
            await storage.create_hook(Hook(hook_id=hook_id, run_id=run_id, token=f"{run_id}:{hook_id}"))
            hooks.append(f"{run_id}:{hook_id}")
        else:
            stream_id = rnd.choice(streams)
            signal_id = f"sig_live_{uuid.uuid4().hex[:16]}"
            seq = await storage.publish_signal(signal_id, stream_id, "live", {"op": ops}, stream_run_id="run_live_stream")
            signals.append({"signal_id": signal_id, "stream_id": stream_id, "sequence": seq})
        ops += 1
    print(json.dumps({"ok": True, "ops": ops, "events": events, "hook_tokens": hooks, "signals": signals}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
