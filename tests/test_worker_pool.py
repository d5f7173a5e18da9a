"""The plain worker command keeps many LLM calls in flight in one process."""

import os
import uuid

import redis

from tests.test_job_recovery import _kill, _start_worker
from tests.test_operations import poll, submit


def test_the_plain_worker_runs_its_concurrency_of_calls_at_once(
        config_class, database, services, auth, llm):
    from webapp import create_app

    concurrency = 24
    prefix = f"llmlog-test-pool-{uuid.uuid4().hex[:8]}:"

    class PoolConfig(config_class):
        REDIS_KEY_PREFIX = prefix

    app = create_app(PoolConfig)
    client = app.test_client()
    env = {**os.environ, "REDIS_KEY_PREFIX": prefix, "WORKER_CONCURRENCY": str(concurrency),
           "DATABASE_URL": database, "REDIS_URL": services["REDIS_URL"],
           "OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "test-key"}
    _, headers = auth.user()
    llm.default_delay_s = 3.0
    worker = _start_worker(env)
    try:
        job_ids = [submit(client, headers).get_json()["job_id"] for _ in range(concurrency + 6)]
        for job_id in job_ids:
            assert poll(client, headers, job_id, timeout=60)["status"] == "succeeded"
        # Every thread had a call with the LLM at once; the six left over waited their turn.
        assert llm.max_in_flight == concurrency
    finally:
        _kill(worker)
        client_redis = redis.Redis.from_url(services["REDIS_URL"])
        for key in client_redis.scan_iter(match=f"{prefix}*"):
            client_redis.delete(key)
