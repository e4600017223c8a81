"""Times pyworkflow's own delete_old_runs(cutoff) on a store (benchmark baseline).

Usage: python pyworkflow_delete_old_runs.py '<storage config json>' '<cutoff ISO>'
Prints {"ok": true, "deleted": n, "seconds": s} (connect time excluded).
"""
import asyncio
import json
import sys
import time
from datetime import datetime


async def main() -> None:
    from pyworkflow.storage.config import config_to_storage

    storage = config_to_storage(json.loads(sys.argv[1]))
    cutoff = datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
    await storage.connect()
    t0 = time.perf_counter()
    deleted = await storage.delete_old_runs(cutoff)
    seconds = time.perf_counter() - t0
    await storage.disconnect()
    print(json.dumps({"ok": True, "deleted": deleted, "seconds": seconds}))


asyncio.run(main())
