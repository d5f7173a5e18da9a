"""The job sweeper: a thread in every worker's main process, so no beat is needed.

It sends again the jobs whose message may be lost (webapp.services.jobs.sweep), and
writes the log rows that waited in Redis while the database was down (log_spool.drain).
"""

import logging
import threading

from webapp.services import jobs, log_spool

log = logging.getLogger(__name__)


def start_sweeper(flask_app):
    """Start the sweeper thread; it runs at once, then every JOB_SWEEP_INTERVAL_S."""
    stop = threading.Event()
    interval = flask_app.config["JOB_SWEEP_INTERVAL_S"]
    resend_after = flask_app.config["JOB_RESEND_AFTER_S"]

    def loop():
        while not stop.is_set():
            try:
                with flask_app.app_context():
                    jobs.sweep(resend_after)
                    log_spool.drain()
            except Exception:
                log.exception("Job sweep failed; trying again in %s s", interval)
            stop.wait(interval)

    threading.Thread(target=loop, name="job-sweeper", daemon=True).start()
    return stop
