"""The Celery worker's entry point: `celery -A tasks worker`.

Builds the Flask app, takes the Celery app it configured, and imports the
task modules so the worker knows every task.
"""

from celery.signals import setup_logging, worker_process_init, worker_ready, worker_shutdown

from tasks import llm_operations  # noqa: F401  (registers the tasks)
from tasks.alerting import start_alerting
from tasks.sweeper import start_sweeper
from webapp import create_app, json_logging, metrics
from webapp.extensions import db

flask_app = create_app()
celery = flask_app.extensions["celery"]
_background = {}


@setup_logging.connect
def _json_logs(loglevel=None, **_):
    """The worker logs JSON lines on stderr like the web app (instead of Celery's own format)."""
    json_logging.install(flask_app.config, level=loglevel or "INFO")


@worker_process_init.connect
def _dispose_engine_after_fork(**_):
    """Forked pool processes must not share the parent's database connections."""
    with flask_app.app_context():
        db.engine.dispose(close=False)


@worker_ready.connect
def _start_background_threads(sender=None, **_):
    # Only for a worker of this Celery app (not, say, a test's embedded worker).
    if getattr(sender, "app", None) is celery:
        _background["sweeper"] = start_sweeper(flask_app)
        _background["alerts"] = start_alerting(
            flask_app, on_webhook_failure=metrics.record_webhook_failure)


@worker_shutdown.connect
def _stop_background_threads(**_):
    for stop in _background.values():
        stop.set()
