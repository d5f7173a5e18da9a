"""Celery wired the Flask way: every task runs inside an app context of this app.

The Flask-SQLAlchemy session is removed when that app context ends, so each
task starts with a fresh session.
"""

from celery import Celery, Task

from webapp.services.jobs import lease_seconds


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
        # Just above a job's lease: a slow job is not redelivered while it runs, and the job
        # of a worker that died is redelivered soon after its lease ends.
        "visibility_timeout": int(lease_seconds(config) + 30),
        # Without these a publish into an unreachable Redis blocks for minutes (SPEC 11).
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT_S"],
        "socket_connect_timeout": config["REDIS_CONNECT_TIMEOUT_S"],
    }
    if config["REDIS_KEY_PREFIX"]:
        transport["global_keyprefix"] = config["REDIS_KEY_PREFIX"]
    return {
        "broker_url": config["REDIS_URL"],
        **config["CELERY"],
        "broker_transport_options": transport,
    }
