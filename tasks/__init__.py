"""The Celery worker's entry point: `celery -A tasks worker`.

Builds the Flask app, takes the Celery app it configured, and imports the
task modules so the worker knows every task.
"""

from celery.signals import worker_process_init

from webapp import create_app
from webapp.extensions import db

flask_app = create_app()
celery = flask_app.extensions["celery"]


@worker_process_init.connect
def _dispose_engine_after_fork(**_):
    """Forked pool processes must not share the parent's database connections."""
    with flask_app.app_context():
        db.engine.dispose(close=False)
