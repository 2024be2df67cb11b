"""The product's Celery app with proposed changes applied, to measure them before they land.

``python bench/run.py --what-if reuse-db,prefetch2`` starts the workers with
``-A bench.whatif_app`` and ``BENCH_WHATIF=reuse-db,prefetch2``. Nothing here is used by
the product; each variant is a change described in bench/README.md ("Proposed changes"):

- ``reuse-db``: keep the worker's database connection between tasks. Celery's Django
  fixup closes every connection before and after each task unless ``CELERY_DB_REUSE_MAX``
  is set; with it set, Django's own per-request hygiene (``close_old_connections``: drop a
  broken connection, or one older than CONN_MAX_AGE) runs before each task instead.
  Measured, then adopted: the product does this itself now (tkassalam/settings/base.py,
  tkassalam/celery.py), so the variant changes nothing any more.
- ``prefetch2``: ``worker_prefetch_multiplier = 2``, so the next message is already in the
  worker while one is being sent (hides the ack + fetch round trip to the broker).
"""

import os

from celery.signals import task_prerun

from tkassalam.celery import app

__all__ = ["app"]

VARIANTS = {v.strip() for v in os.environ.get("BENCH_WHATIF", "").split(",") if v.strip()}
KNOWN = {"reuse-db", "prefetch2"}
if VARIANTS - KNOWN:
    raise SystemExit(f"unknown BENCH_WHATIF variant(s): {sorted(VARIANTS - KNOWN)}")

if "reuse-db" in VARIANTS:
    # Read by celery.fixups.django when the worker starts: close only every N tasks.
    app.conf["CELERY_DB_REUSE_MAX"] = 1000

    @task_prerun.connect(weak=False)
    def _recycle_old_connections(**kwargs):
        from django.db import close_old_connections

        close_old_connections()


if "prefetch2" in VARIANTS:
    app.conf.worker_prefetch_multiplier = 2
