"""The further admin analytics of SPEC section 8 equal plain SQL over the same rows:
costliest and slowest calls, by model and prompt version, and what users did with revisions."""

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.test_log_rollups import assert_by_model_matches
from tests.test_logs_listing import LOG_KEYS
from webapp.extensions import db
from webapp.services import log_analytics, log_rollups

NOW = datetime.now(timezone.utc)
MODELS = [("gpt-4o-mini-2024-07-18", "workout", 1), ("gpt-4o-mini-2024-07-18", "workout", 2),
          ("gpt-4.1-mini-2025-04-14", "workout_revision", 1), (None, None, None)]


def _log_rows(users, count=400, seed=7):
    rng = random.Random(seed)
    for _ in range(count):
        model, prompt_name, prompt_version = rng.choice(MODELS)
        success = rng.random() > 0.25
        yield {
            "user_id": rng.choice(users), "timestamp": NOW - timedelta(hours=rng.uniform(0, 24 * 20)),
            "success": success, "error_type": None if success else "APITimeoutError",
            "duration_ms": None if rng.random() < 0.1 else rng.randint(5, 20000),
            "total_tokens": None if rng.random() < 0.1 else rng.randint(10, 5000),
            # Ties on purpose: the order among equal costs is the newest first.
            "cost_usd": None if rng.random() < 0.2 else rng.choice([0.0001, 0.002, 0.013]) + (
                round(rng.uniform(0, 0.001), 6) if rng.random() < 0.5 else 0),
            "model": model, "prompt_name": prompt_name, "prompt_version": prompt_version,
        }


_INSERT_LOG = text("""
    INSERT INTO llm_call_logs (user_id, endpoint_name, method, "timestamp", duration_ms, success,
        error_type, llm_operation_type, total_tokens, cost_usd, model, prompt_name, prompt_version)
    VALUES (:user_id, 'llm/create-workout', 'POST', :timestamp, :duration_ms, :success,
        :error_type, 'workout_creation', :total_tokens, :cost_usd, :model, :prompt_name,
        :prompt_version)
""")


@pytest.fixture
def logs(app_ctx):
    users = ["u-one", "u-two", "u-three"]
    with db.engine.begin() as conn:
        conn.execute(_INSERT_LOG, list(_log_rows(users)))
    return users


def _sql(query, **params):
    return db.session.execute(text(query), params).all()


def _window(days, user_id, column='"timestamp"', user_column="user_id"):
    where = f"{column} >= :since" + (f" AND {user_column} = :user_id" if user_id else "")
    return where, {"since": NOW - timedelta(days=days), "user_id": user_id}


@pytest.mark.parametrize("days, limit, user_id", [(7, 10, None), (30, 100, None), (3, 5, "u-two"),
                                                  (1, 1, None)])
@pytest.mark.parametrize("column", ["cost_usd", "duration_ms"])
def test_costliest_and_slowest_equal_plain_sql(logs, days, limit, user_id, column):
    where, params = _window(days, user_id)
    expected = [row.id for row in _sql(f"""
        SELECT id FROM llm_call_logs WHERE {where}
        ORDER BY {column} DESC NULLS LAST, "timestamp" DESC, id DESC LIMIT {limit}""", **params)]
    service = log_analytics.costliest if column == "cost_usd" else log_analytics.slowest
    assert [row.id for row in service(days=days, limit=limit, user_id=user_id, now=NOW)] == expected
    assert len(expected) == min(limit, len(expected)) and expected


@pytest.mark.parametrize("days, user_id", [(7, None), (30, None), (2, "u-one"), (365, "nobody")])
def test_by_model_equals_plain_sql(logs, days, user_id):
    expected = assert_by_model_matches(days, now=NOW, user_id=user_id)
    if user_id != "nobody":
        assert len(expected) == len(MODELS)


def test_by_model_reads_the_rollups_for_a_wide_window(logs):
    """Rows loaded with the triggers off are in no rollup until they are folded in: by-model
    for everyone misses them (it reads the rollups), one user's by-model (raw rows) does not."""
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(_INSERT_LOG, list(_log_rows(["u-one"], count=50, seed=8)))
    calls = lambda **kw: sum(i["calls"] for i in log_analytics.by_model(days=30, now=NOW, **kw))  # noqa: E731
    [[in_table]] = _sql("SELECT count(*) FROM llm_call_logs")
    assert calls() == in_table - 50
    assert_by_model_matches(30, now=NOW, user_id="u-one")
    log_rollups.rebuild()
    assert calls() == in_table
    assert_by_model_matches(30, now=NOW)


@pytest.fixture
def revisions(app, auth):
    """Revisions of two users' workouts, proposed over 20 days by two models and prompt
    versions: some accepted after a while, some superseded, some pending."""
    rng = random.Random(3)
    owners = [auth.user()[0], auth.user()[0]]
    with app.app_context(), db.engine.begin() as conn:
        for owner in owners:
            workout_id = conn.execute(text("""
                INSERT INTO workouts (user_id, title, description, duration_minutes, difficulty,
                                      exercises, version)
                VALUES (:u, 'w', 'd', 30, 'beginner', '[]', 1) RETURNING id"""), {"u": owner}).scalar()
            for _ in range(60):
                created = NOW - timedelta(hours=rng.uniform(0, 24 * 20))
                status = rng.choice(["accepted", "accepted", "superseded", "pending"])
                decided = None if status == "pending" else created + timedelta(
                    seconds=rng.uniform(1, 7200))
                model, version = rng.choice([("gpt-4o-mini-2024-07-18", 1),
                                             ("gpt-4o-mini-2024-07-18", 2), (None, None)])
                conn.execute(text("""
                    INSERT INTO workout_revisions (workout_id, user_id, job_id, base_version,
                        feedback, revised, status, created_at, decided_at, model, prompt_name,
                        prompt_version)
                    VALUES (:w, :u, :j, 1, 'f', '{}', :s, :c, :d, :m, 'workout_revision', :v)"""),
                    {"w": workout_id, "u": owner, "j": uuid.uuid4(), "s": status, "c": created,
                     "d": decided, "m": model, "v": version})
    return [str(owner) for owner in owners]


@pytest.mark.parametrize("days, which_user", [(7, None), (30, None), (3, 0), (365, 1)])
def test_revisions_equal_plain_sql(app_ctx, revisions, days, which_user):
    user_id = None if which_user is None else revisions[which_user]
    params = {"since": NOW - timedelta(days=days), "user_id": user_id}

    def where(alias):
        return f"{alias}.created_at >= :since" + (
            f" AND {alias}.user_id::text = :user_id" if user_id else "")

    expected = {
        (r.model, r.prompt_version): {
            "model": r.model, "prompt_version": r.prompt_version, "revisions": r.n,
            "accepted": r.acc, "superseded": r.sup, "pending": r.pen,
            "acceptance_rate": float(round(r.acc * 100.0 / r.n, 2)),
            "median_seconds_to_accept": r.median,
        }
        for r in _sql(f"""
            SELECT model, prompt_version, count(*) AS n,
                   sum(CASE WHEN status = 'accepted' THEN 1 ELSE 0 END) AS acc,
                   sum(CASE WHEN status = 'superseded' THEN 1 ELSE 0 END) AS sup,
                   sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pen,
                   (SELECT percentile_cont(0.5) WITHIN GROUP (
                        ORDER BY extract(epoch FROM a.decided_at - a.created_at))
                    FROM workout_revisions a
                    WHERE a.status = 'accepted' AND a.model IS NOT DISTINCT FROM r.model
                      AND a.prompt_version IS NOT DISTINCT FROM r.prompt_version
                      AND {where('a')}
                   ) AS median
            FROM workout_revisions r WHERE {where('r')}
            GROUP BY 1, 2""", **params)
    }
    answer = log_analytics.revisions(days=days, user_id=user_id, now=NOW)
    assert {(i["model"], i["prompt_version"]): i for i in answer} == expected
    assert len(answer) == len(expected) >= (3 if days >= 30 else 1)


def test_a_group_without_an_accepted_revision_has_a_null_median(app_ctx, revisions):
    db.session.execute(text("UPDATE workout_revisions SET status = 'pending', decided_at = NULL "
                            "WHERE model IS NULL"))
    db.session.commit()
    [nulls] = [i for i in log_analytics.revisions(days=30, now=NOW) if i["model"] is None]
    assert (nulls["accepted"], nulls["acceptance_rate"], nulls["median_seconds_to_accept"]) == (
        0, 0.0, None)


# --- the routes -------------------------------------------------------------------------------


def test_costliest_answers_full_log_objects_most_expensive_first(client, auth, logs):
    _, headers = auth.admin()
    body = client.get("/llm-logs/stats/costliest", headers=headers,
                      query_string={"days": 30, "limit": 3}).get_json()
    assert len(body["items"]) == 3
    assert all(set(item) == set(LOG_KEYS) for item in body["items"])
    costs = [item["cost_usd"] for item in body["items"]]
    assert costs == sorted(costs, reverse=True) and None not in costs
    one = client.get(f"/llm-logs/{body['items'][0]['id']}", headers=headers).get_json()
    assert one == body["items"][0]


def test_slowest_narrowed_to_one_user_shows_only_their_calls(client, auth, logs):
    _, headers = auth.admin()
    body = client.get("/llm-logs/stats/slowest", headers=headers,
                      query_string={"user_id": "u-three"}).get_json()
    assert body["items"] and {item["user_id"] for item in body["items"]} == {"u-three"}
    assert len(body["items"]) == 10  # the default limit


def test_by_model_and_revisions_routes_answer_the_service_items(client, auth, logs, revisions):
    _, headers = auth.admin()
    by_model = client.get("/llm-logs/stats/by-model", headers=headers).get_json()["items"]
    assert by_model == log_analytics.by_model(days=7)
    assert set(by_model[0]) == {"model", "prompt_name", "prompt_version", "calls", "failed_calls",
                                "error_rate", "avg_duration_ms", "p95_duration_ms",
                                "total_tokens", "total_cost_usd"}
    outcome = client.get("/llm-logs/stats/revisions", headers=headers,
                         query_string={"days": 30}).get_json()["items"]
    assert sorted(outcome, key=str) == sorted(log_analytics.revisions(days=30), key=str)
    assert set(outcome[0]) == {"model", "prompt_version", "revisions", "accepted", "superseded",
                               "pending", "acceptance_rate", "median_seconds_to_accept"}


def test_the_further_analytics_are_for_admins_only(client, auth):
    _, headers = auth.user()
    for name in ("costliest", "slowest", "by-model", "revisions"):
        response = client.get(f"/llm-logs/stats/{name}", headers=headers)
        assert response.status_code == 403, name
