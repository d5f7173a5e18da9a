"""The job sweeper: a thread in every worker's main process, so no beat is needed.

It writes the log rows that waited in Redis or the local spool file while the database was
down (log_spool.drain), then sends again the jobs whose message is lost (jobs.sweep: after
the spool, so a re-run finds its lost run's spooled rows and writes WorkerLost rows only
for attempts that truly have none), makes the log table's partitions of the coming
months (log_partitions.ensure_ahead), and removes the log rows past LOG_RETENTION_DAYS
(log_retention.purge).
"""

import logging
import threading

from webapp.services import jobs, log_partitions, log_retention, log_spool

log = logging.getLogger(__name__)


def _retention(config):
    """Remove the log rows older than LOG_RETENTION_DAYS, when it is set."""
    if config.get("LOG_RETENTION_DAYS"):
        log_retention.purge(config["LOG_RETENTION_DAYS"])


def start_sweeper(flask_app):
    """Start the sweeper thread; it runs at once, then every JOB_SWEEP_INTERVAL_S."""
    stop = threading.Event()
    interval = flask_app.config["JOB_SWEEP_INTERVAL_S"]
    resend_after = flask_app.config["JOB_RESEND_AFTER_S"]

    steps = (
        ("write spooled log rows", log_spool.drain),
        ("send unfinished jobs again", lambda: jobs.sweep(resend_after)),
        ("make log partitions", log_partitions.ensure_ahead),
        ("apply log retention", lambda: _retention(flask_app.config)),
    )

    def loop():
        while not stop.is_set():
            for name, step in steps:
                try:
                    with flask_app.app_context():
                        step()
                except Exception:
                    log.exception("Sweeper could not %s; trying again in %s s", name, interval)
            stop.wait(interval)

    threading.Thread(target=loop, name="job-sweeper", daemon=True).start()
    return stop
