"""What runs on a clock (`manage.py rqcron explorer.cron`, started by `manage.py start`): the
stability clock, and the storage sweep. One scheduler enqueues; any RQ worker runs the jobs."""

from rq import cron

from explorer import stability, storage_check

cron.register(
    stability.tick,
    queue_name="default",
    interval=stability.tick_seconds(),
    # A tick not started in time (no worker free) is dropped: the next one does its work, so
    # ticks never pile up behind a long job.
    ttl=2 * stability.tick_seconds(),
    result_ttl=0,
    failure_ttl=3600,
)

# The storage sweep (explorer/storage_check.py): old temporary files removed, orphans logged.
cron.register(
    storage_check.periodic_sweep,
    queue_name="default",
    interval=storage_check.SWEEP_SECONDS,
    ttl=storage_check.SWEEP_SECONDS,
    result_ttl=0,
    failure_ttl=24 * 3600,
)
