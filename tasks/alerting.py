"""Alert evaluation and webhook delivery: threads in every worker's main process (no beat).

Each worker evaluates the rules that are due (ALERT_EVAL_INTERVAL_S since their last
evaluation by any worker; a rule another worker is evaluating is skipped), and delivers the
events that are due, each in a thread of a small pool, so a slow webhook never holds up the
evaluation or the other webhooks.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from webapp.services import alert_webhooks, alerts

log = logging.getLogger(__name__)

DELIVERY_THREADS = 8
DELIVERY_POLL_S = 0.5


def start_alerting(flask_app, on_webhook_failure=None):
    """Start the evaluator and the deliverer; returns an Event that stops both."""
    stop = threading.Event()
    interval = flask_app.config["ALERT_EVAL_INTERVAL_S"]
    # Due rules are looked for more often than the interval, so a rule is evaluated within
    # a few seconds of falling due, whichever worker gets it.
    tick = min(5.0, interval)

    def evaluate_loop():
        while not stop.is_set():
            try:
                with flask_app.app_context():
                    alerts.evaluate_due(interval)
            except Exception:
                log.exception("Could not evaluate the alert rules; trying again in %s s", tick)
            stop.wait(tick)

    pool = ThreadPoolExecutor(max_workers=DELIVERY_THREADS, thread_name_prefix="alert-webhook")
    in_flight = threading.Semaphore(DELIVERY_THREADS)

    def deliver_one(event):
        try:
            with flask_app.app_context():
                alert_webhooks.deliver(event, on_failure=on_webhook_failure)
        except Exception:
            log.exception("Could not record the delivery of alert event %s", event["id"])
        finally:
            in_flight.release()

    def deliver_loop():
        while not stop.is_set():
            free = 0
            while in_flight.acquire(blocking=False):
                free += 1
            try:
                with flask_app.app_context():
                    events = alert_webhooks.claim_due(free) if free else []
            except Exception:
                log.exception("Could not look for alert webhooks to deliver")
                events = []
            for _ in range(free - len(events)):
                in_flight.release()
            for event in events:
                pool.submit(deliver_one, event)
            stop.wait(DELIVERY_POLL_S)
        pool.shutdown(wait=False)

    for target, name in ((evaluate_loop, "alert-evaluator"), (deliver_loop, "alert-deliverer")):
        threading.Thread(target=target, name=name, daemon=True).start()
    return stop
