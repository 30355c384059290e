"""What rq's cron scheduler runs (`manage.py rqcron explorer.cron`, started by `manage.py
start`): the stability clock. One scheduler enqueues; any RQ worker runs the ticks."""

from rq import cron

from explorer import stability

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
