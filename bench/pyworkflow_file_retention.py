#!/usr/bin/env python3
"""pyworkflow's own file-store retention, timed: FileStorageBackend(base_path).delete_old_runs(cutoff),
exactly what its Celery beat task runs. Prints {"deleted": n, "seconds": s} on stdout.

Usage: pyworkflow_file_retention.py BASE_PATH CUTOFF_ISO
"""

import asyncio
import json
import os
import sys
import time
from datetime import datetime

os.environ.setdefault("LOGURU_LEVEL", "WARNING")

from pyworkflow.storage.file import FileStorageBackend  # noqa: E402


async def main() -> None:
    base_path, cutoff = sys.argv[1], datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
    storage = FileStorageBackend(base_path=base_path)
    started = time.perf_counter()
    deleted = await storage.delete_old_runs(cutoff)
    print(json.dumps({"deleted": deleted, "seconds": time.perf_counter() - started}))


asyncio.run(main())
