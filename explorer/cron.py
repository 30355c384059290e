"""What rq's cron scheduler runs (`manage.py rqcron explorer.cron`, started by `manage.py
start`): the stability clock and the audit trail's pruning. One scheduler enqueues; any RQ
worker runs the ticks."""

from rq import cron

from explorer import audit, stability

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

# The audit trail keeps PHAROS_AUDIT_RETENTION_DAYS: older events go, hour by hour.
cron.register(audit.prune_job, queue_name="default", interval=3600, ttl=3600, result_ttl=0, failure_ttl=24 * 3600)
