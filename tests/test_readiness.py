"""GET /readyz while one part hangs (SPEC 11): quick, and naming only the part that is down."""

import threading
import time

from webapp.services import readiness


def test_a_hanging_postgresql_check_never_makes_redis_look_down(app, client, monkeypatch):
    """Probes piling up against an unreachable PostgreSQL (each waits out its timeouts) leave
    Redis' checks free to run: every answer is within 3 s and names PostgreSQL alone."""
    release = threading.Event()

    def unreachable(app):
        release.wait(10)
        raise OSError("timed out")

    monkeypatch.setitem(readiness.CHECKS, "postgresql", unreachable)
    answers = []

    def probe():
        started = time.monotonic()
        response = app.test_client().get("/readyz")
        answers.append((response.status_code, response.get_json()["checks"],
                        time.monotonic() - started))

    try:
        for _ in range(3):
            probes = [threading.Thread(target=probe) for _ in range(4)]
            for thread in probes:
                thread.start()
            for thread in probes:
                thread.join()
    finally:
        release.set()
    assert len(answers) == 12
    for status, checks, seconds in answers:
        assert status == 503 and seconds < 3
        assert checks == {"postgresql": "down", "redis": "ok"}
