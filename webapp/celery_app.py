"""Celery wired the Flask way: every task runs inside an app context of this app.

The Flask-SQLAlchemy session is removed when that app context ends, so each
task starts with a fresh session.
"""

from celery import Celery, Task

from webapp.services.jobs import longest_run_s


def celery_init_app(app):
    """Create the Celery app for this Flask app and keep it in app.extensions["celery"]."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_settings(app.config))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_settings(config):
    """The CELERY settings, completed with the broker and its transport options."""
    transport = {
        # Above the longest job, so a slow job is not redelivered while it runs, yet close
        # to it, so the job of a worker that died is redelivered soon after.
        "visibility_timeout": int(longest_run_s(config) + config["JOB_LEASE_MARGIN_S"] + 30),
    }
    if config["REDIS_KEY_PREFIX"]:
        transport["global_keyprefix"] = config["REDIS_KEY_PREFIX"]
    return {
        "broker_url": config["REDIS_URL"],
        **config["CELERY"],
        "broker_transport_options": transport,
    }
