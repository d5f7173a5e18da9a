"""The RabbitMQ the broker tests use: RABBITMQ_URL, else the local one, if it answers.

A test run keeps to names of its own (its REDIS_KEY_PREFIX before every queue and exchange
name, webapp.celery_app) on the server's vhost, and deletes them afterwards.
"""

import os

import kombu

URL = os.environ.get("RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672//"


def answering_url():
    """The RabbitMQ URL if a broker answers there within 2 s, else None."""
    connection = kombu.Connection(URL, connect_timeout=2)
    try:
        connection.connect()
        return URL
    except Exception:  # noqa: BLE001 - any failure means: no RabbitMQ here
        return None
    finally:
        connection.release()


def delete_names(url, prefix):
    """Delete the queue and exchanges a deployment with this prefix declared."""
    with kombu.Connection(url, connect_timeout=2) as connection:
        for kind, name in (("queue", f"{prefix}celery"), ("exchange", f"{prefix}celery"),
                           ("exchange", f"{prefix}celery.pidbox"),
                           ("exchange", f"reply.{prefix}celery.pidbox"),
                           ("exchange", f"{prefix}celeryev")):
            channel = connection.channel()
            try:
                if kind == "queue":
                    channel.queue_delete(name)
                else:
                    channel.exchange_delete(name)
            except Exception:  # noqa: BLE001 - never declared: nothing to delete
                pass
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - a channel the server closed already
                    pass


def queue_type(url, name):
    """"quorum" or "classic": the type RabbitMQ holds the queue as (a declare with the other
    type is refused as inequivalent)."""
    with kombu.Connection(url, connect_timeout=2) as connection:
        for kind in ("quorum", "classic"):
            channel = connection.channel()
            try:
                channel.queue_declare(name, durable=True, auto_delete=False,
                                      arguments={"x-queue-type": kind})
                return kind
            except Exception:  # noqa: BLE001 - PRECONDITION_FAILED: the other type
                continue
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - the server closed it already
                    pass
        raise AssertionError(f"queue {name} is neither quorum nor classic")
