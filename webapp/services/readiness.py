"""Is each part the service needs there? PostgreSQL and Redis, checked side by side, and
the broker too when it is not Redis (CELERY_BROKER_URL, e.g. RabbitMQ): "broker".

Each check runs in a thread of its own and the answer waits at most DEADLINE_S for
both: an unreachable server (packets dropped) makes its check time out rather than
hold up the answer. A check still running then is reported down and ends by itself,
bounded by the connect and socket timeouts of config.py.
"""

import concurrent.futures

import kombu
import redis
from sqlalchemy import text

from webapp.extensions import db

# The readiness answer's promise is 3 s (SPEC 11); this leaves room for the rest of the request.
DEADLINE_S = 2.5

# A pool per part: checks stuck on an unreachable PostgreSQL (each bounded by its timeouts, so
# several can pile up under frequent probes) must not keep Redis' check from running.
_pools = {
    name: concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"readyz-{name}")
    for name in ("postgresql", "redis", "broker")
}


def _postgresql(app):
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


def _redis(app):
    client = redis.Redis.from_url(app.config["REDIS_URL"],
                                  socket_timeout=app.config["REDIS_SOCKET_TIMEOUT_S"],
                                  socket_connect_timeout=app.config["REDIS_CONNECT_TIMEOUT_S"])
    try:
        client.ping()
    finally:
        client.close()


def _broker_url(app):
    return app.extensions["celery"].conf.broker_url


def _broker(app):
    connection = kombu.Connection(
        _broker_url(app), connect_timeout=app.config["REDIS_CONNECT_TIMEOUT_S"],
        transport_options={"read_timeout": app.config["REDIS_SOCKET_TIMEOUT_S"],
                           "write_timeout": app.config["REDIS_SOCKET_TIMEOUT_S"]})
    try:
        connection.connect()
    finally:
        connection.release()


CHECKS = {"postgresql": _postgresql, "redis": _redis}


def checks_for(app):
    """The checks this deployment needs: the broker's own when it is not Redis."""
    if _broker_url(app) != app.config["REDIS_URL"]:
        return {**CHECKS, "broker": _broker}
    return CHECKS


def check(app):
    """{"postgresql": "ok"|"down", "redis": "ok"|"down"[, "broker": ...]} within DEADLINE_S."""
    futures = {name: _pools[name].submit(probe, app)
               for name, probe in checks_for(app).items()}
    concurrent.futures.wait(futures.values(), timeout=DEADLINE_S)
    return {name: _state(future) for name, future in futures.items()}


def _state(future):
    if not future.done():
        return "down"
    return "ok" if future.exception() is None else "down"
