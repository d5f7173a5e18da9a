"""Celery wired the Flask way: every task runs inside an app context of this app.

The Flask-SQLAlchemy session is removed when that app context ends, so each
task starts with a fresh session.
"""

from celery import Celery, Task


def celery_init_app(app):
    """Create the Celery app for this Flask app and keep it in app.extensions["celery"]."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
