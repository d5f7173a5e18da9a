"""Celery wired the Flask way: every task runs inside an app context of this app.

The Flask-SQLAlchemy session is removed when that app context ends, so each
task starts with a fresh session. The broker is Redis (REDIS_URL) unless
CELERY_BROKER_URL names another; with RabbitMQ (amqp://) the task queue is a
quorum queue and every publish waits for the broker's confirm (SPEC 17).
"""

from celery import Celery, Task
from celery.worker.consumer import Consumer

from webapp.services.jobs import lease_seconds

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


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


def broker_url(config):
    """The broker: CELERY_BROKER_URL when set, else Redis (REDIS_URL)."""
    return config.get("CELERY_BROKER_URL") or config["REDIS_URL"]


def is_amqp(url):
    """Whether the URL names an AMQP broker (RabbitMQ)."""
    return str(url or "").startswith(AMQP_SCHEMES)


def celery_settings(config):
    """The CELERY settings, completed with the broker and its transport options."""
    url = broker_url(config)
    settings = {"broker_url": url, **config["CELERY"]}
    if is_amqp(url):
        settings.update(_amqp_settings(config))
    else:
        settings["broker_transport_options"] = _redis_transport(config)
    return settings


def _redis_transport(config):
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
    return transport


def _amqp_settings(config):
    """RabbitMQ: a quorum queue (replicated, survives a node), publisher confirms, bounded
    socket waits. A message stays unacked until its job ran (late acks); RabbitMQ gives it
    to another worker as soon as the connection of the one that took it closes, and its
    server-side consumer_timeout (30 min by default) must stay above the longest job."""
    prefix = config["REDIS_KEY_PREFIX"]
    settings = {
        "broker_transport_options": {
            # Each publish waits for the broker's ack: a message it refused raises instead of
            # vanishing, and the job stays queued for the sweeper (webapp.services.jobs.enqueue).
            "confirm_publish": True,
            # No read_timeout here: it would cut a worker's idle consumer. A publish bounds
            # its write and its confirm itself (webapp.services.jobs.enqueue), and the
            # connect (with the AMQP handshake) is bounded by broker_connection_timeout.
        },
        "broker_connection_timeout": config["REDIS_CONNECT_TIMEOUT_S"],
        "task_default_queue_type": "quorum",
        "task_create_missing_queue_type": "quorum",
        # Quorum queues have no global QoS: prefetch per consumer.
        "worker_detect_quorum_queues": True,
        "worker_consumer": "webapp.celery_app:QuorumConsumer",
    }
    if prefix:
        # Deployments (and test runs) sharing one vhost keep apart by their names.
        settings.update({
            "task_default_queue": f"{prefix}celery",
            "control_exchange": f"{prefix}celery",
            "event_exchange": f"{prefix}celeryev",
        })
    return settings


class QuorumConsumer(Consumer):
    """Celery's consumer without native delayed delivery: no task here is sent with a
    countdown (the sweeper re-sends), and that step would declare 28 exchanges and queues
    of its own on the broker, shared by every deployment on the vhost."""

    class Blueprint(Consumer.Blueprint):
        default_steps = [step for step in Consumer.Blueprint.default_steps
                         if not step.endswith(":DelayedDelivery")]
