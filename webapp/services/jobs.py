"""Jobs: submit, enqueue, claim, finish, and sweep up the ones a lost worker left behind.

A job is claimed with a lease as long as its longest run. A worker that dies
leaves the lease to expire; then the broker's redelivery or the sweeper sends
the job again, and the next claim re-runs it. Results are stored in the same
transaction that marks the job succeeded, so a re-run never stores twice.
"""

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import DateTime, bindparam, func, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError

from webapp import metrics
from webapp.error_text import public_message
from webapp.errors import Conflict
from webapp.extensions import db
from webapp.models import Job
from webapp.services import broker_queue, lost_attempts

log = logging.getLogger(__name__)

# Task names by operation: the web tier enqueues by name and never imports tasks/.
TASK_NAMES = {
    "workout_creation": "tasks.create_workout",
    "training_principles_creation": "tasks.create_training_principles",
    "workout_revision": "tasks.revise_workout",
}
# A job started this many times without finishing is failed rather than run again.
MAX_RUNS = 3
# Payload keys kept only until the job ends.
EPHEMERAL_PAYLOAD_KEYS = ("health_notes",)
# Hex characters of each half of a request fingerprint (128 bits).
FINGERPRINT_HALF = 32
# The worker's hot path works on the table, not on ORM objects.
_JOBS = Job.__table__
# What claim returns: the columns a run needs, as attributes of a row.
_CLAIMED_COLUMNS = ("id", "user_id", "operation_type", "payload", "request_meta", "enqueued_at",
                    "first_enqueued_at", "attempts", "llm_attempts", "attempt_started_at",
                    "lease_expires_at")


def _now():
    return datetime.now(timezone.utc)


def _digest(operation_type, payload, length=FINGERPRINT_HALF):
    text = json.dumps([operation_type, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fingerprint(operation_type, payload):
    """What was asked, hashed, to tell a repeat from a different request under one key.

    Two halves: the request without its ephemeral keys (health_notes), then the whole request.
    When the job ends the second half is dropped with the ephemeral keys themselves
    (`finished_fingerprint`), so nothing of health_notes outlives the job, not even a hash.
    """
    stable = {k: v for k, v in payload.items() if k not in EPHEMERAL_PAYLOAD_KEYS}
    return _digest(operation_type, stable) + _digest(operation_type, payload)


def finished_fingerprint(digest):
    """The fingerprint a finished job keeps: the half that covers no ephemeral key."""
    return digest[:FINGERPRINT_HALF] if digest else digest


def submit(user, operation_type, payload, *, request_meta, idempotency_key=None, admit=None):
    """Store a queued job and enqueue it; return (job, created).

    With an idempotency key, a repeat of the same request returns the first job;
    the same key with a different request is a 409. `admit()`, called only when a new job
    would be made, may refuse it by raising (the limits: a repeat is not a new submit).
    """
    digest = fingerprint(operation_type, payload)
    if idempotency_key is not None:
        existing = _job_for_key(user, idempotency_key)
        if existing is not None:
            return _same_request_or_409(existing, digest), False
    if admit is not None:
        admit()
    job = Job(
        id=uuid.uuid4(),
        user_id=user.id,
        operation_type=operation_type,
        status="queued",
        payload=payload,
        request_meta=request_meta,
        idempotency_key=idempotency_key,
        request_fingerprint=digest,
        enqueued_at=_now(),
        attempts=0,
    )
    db.session.add(job)
    # What the answer and the message need, read before the commit expires the job: once it is
    # committed the job exists and will run (the sweeper sends a queued job whose message never
    # left), so nothing after the commit may turn the 202 into an error (SPEC 11).
    submitted = SubmittedJob(job.id, operation_type)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _job_for_key(user, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        # A concurrent request with the same key won the race: answer with its job.
        return _same_request_or_409(existing, digest), False
    metrics.record_submitted(operation_type)
    enqueue(submitted)
    return submitted, True


class SubmittedJob:
    """A job just stored: its id and operation type, which need no database to read."""

    def __init__(self, job_id, operation_type):
        self.id = job_id
        self.operation_type = operation_type


def _job_for_key(user, key):
    return db.session.scalar(select(Job).where(Job.user_id == user.id, Job.idempotency_key == key))


def _same_request_or_409(job, digest):
    # A finished job kept only the first half (no hash of health_notes): compare that.
    expected = job.request_fingerprint or ""
    if expected != digest[:len(expected)] or not expected:
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_key_reused",
        )
    return job


def enqueue(job):
    """Send the job's task by name. If the broker is down the job stays queued and the
    sweeper sends it once the broker is back, so the request still succeeds."""
    celery = current_app.extensions["celery"]
    try:
        celery.send_task(
            TASK_NAMES[job.operation_type],
            args=[str(job.id)],
            retry=True,
            # Bounded with the broker's socket timeouts, so a submit never blocks past 5 s;
            # with RabbitMQ the write and the wait for its publisher confirm are bounded here
            # (a socket timeout on the connection would also cut the workers' idle consumers).
            retry_policy=current_app.config["CELERY"]["task_publish_retry_policy"],
            timeout=current_app.config["REDIS_SOCKET_TIMEOUT_S"],
            confirm_timeout=current_app.config["REDIS_SOCKET_TIMEOUT_S"],
        )
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the job stays queued
        # One line, no traceback: while the broker is down every submit would log one.
        log.warning("Could not enqueue job %s (%s); the sweeper will send it later",
                    job.id, type(exc).__name__)


def longest_run_s(config):
    """A run's worst case: every attempt runs into the timeout, with the longest backoff between."""
    retries = config["LLM_MAX_RETRIES"]
    return config["LLM_TIMEOUT_S"] * (retries + 1) + config["LLM_BACKOFF_MAX_S"] * retries


def lease_seconds(config):
    """How long a claim holds a job: its longest possible run plus a margin."""
    return longest_run_s(config) + config["JOB_LEASE_MARGIN_S"]


def _claimable(query, job_id, now):
    """The query for this job if it is queued or its lease expired, locked; a job another
    transaction holds locked is skipped."""
    return query.where(
        _JOBS.c.id == job_id,
        or_(_JOBS.c.status == "queued",
            (_JOBS.c.status == "running") & (_JOBS.c.lease_expires_at < now)),
    ).with_for_update(skip_locked=True)


# The worker's statements, made once; run with bindparams for the job and the time.
_NOW = bindparam("now", type_=DateTime(timezone=True))
_CLAIM = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(
        _claimable(select(_JOBS.c.id), bindparam("job_id"), _NOW)
        .where(_JOBS.c.attempts < MAX_RUNS)
        .scalar_subquery()
    ))
    .values(
        status="running",
        started_at=func.coalesce(_JOBS.c.started_at, _NOW),
        attempts=_JOBS.c.attempts + 1,
        lease_expires_at=bindparam("lease_expires_at"),
    )
    .returning(*(_JOBS.c[name] for name in _CLAIMED_COLUMNS))
)
_LOCK_STATUS = (select(_JOBS.c.status, _JOBS.c.attempts)
                .where(_JOBS.c.id == bindparam("job_id")).with_for_update())
_START_ATTEMPT = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"))
    .values(llm_attempts=_JOBS.c.llm_attempts + 1, attempt_started_at=func.now())
    .returning(_JOBS.c.llm_attempts, _JOBS.c.attempt_started_at)
)
_payload = _JOBS.c.payload
for _key in EPHEMERAL_PAYLOAD_KEYS:
    _payload = _payload.op("-")(literal_column(f"'{_key}'"))  # jsonb minus a key
_SUCCEED = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"))
    .values(status="succeeded", result=bindparam("result"), error=None,
            finished_at=bindparam("finished_at"), lease_expires_at=None, payload=_payload,
            request_fingerprint=func.left(_JOBS.c.request_fingerprint, FINGERPRINT_HALF))
)


def claim(job_id):
    """Mark the job running for this worker and return it, or None if it is finished or
    another worker holds a live lease on it. Fails a job that was started too often.

    The common case is one statement on the table, no ORM object: lock the job if it is
    claimable (skipping it if another transaction holds it), start it, and return the
    columns a run needs. A job it does not claim goes the long way, which tells a finished
    or leased job from one started too often.
    """
    now = _now()
    lease_expires_at = now + timedelta(seconds=lease_seconds(current_app.config))
    claimed = db.session.execute(
        _CLAIM, {"job_id": job_id, "now": now, "lease_expires_at": lease_expires_at}
    ).one_or_none()
    db.session.commit()
    if claimed is None:
        return _claim_the_long_way(job_id)
    if claimed.attempts > 1:
        # A re-run: the attempts a lost worker left without a row get their WorkerLost rows.
        lost_attempts.log_missing(claimed)
    return claimed


def _claim_the_long_way(job_id):
    """Claim with the ORM: None for a finished or leased job; fail one started too often."""
    now = _now()
    job = db.session.scalar(_claimable(select(Job), job_id, now))
    if job is None:
        db.session.rollback()
        return None
    if job.attempts >= MAX_RUNS:
        _mark_failed(job, "WorkerLost", f"The job was started {job.attempts} times without finishing.")
        db.session.commit()
        lost_attempts.log_missing(job)
        return None
    # It became claimable after the first look (its lease ran out just then): start it.
    job.status = "running"
    job.started_at = job.started_at or now
    job.attempts += 1
    job.lease_expires_at = now + timedelta(seconds=lease_seconds(current_app.config))
    db.session.commit()
    if job.attempts > 1:
        lost_attempts.log_missing(job)
    return job


def lock_running(job_id):
    """Lock the job to store its result; None if it is no longer running (a stale re-run)."""
    job = db.session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    return job if job is not None and job.status == "running" else None


def lock_if_running(job_id, run_number=None):
    """Lock the job's row to store its result; True if it is still running (in this run,
    when `run_number` is given), False for a stale run. Like lock_running, without loading
    the job: end it with succeed()."""
    row = db.session.execute(_LOCK_STATUS, {"job_id": job_id}).one_or_none()
    if row is None or row.status != "running":
        return False
    return run_number is None or row.attempts == run_number


def start_attempt(job_id):
    """Number a new LLM attempt of the job, across all its runs, in one atomic UPDATE that
    commits at once; return (attempt, started_at)."""
    row = db.session.execute(_START_ATTEMPT, {"job_id": job_id}).one()
    db.session.commit()
    return row.llm_attempts, row.attempt_started_at


def succeed(job_id, result):
    """Record the result of a job locked by lock_if_running and end it, in one UPDATE that
    also drops the ephemeral payload keys; the caller commits it with whatever the job created."""
    db.session.execute(_SUCCEED, {"job_id": job_id, "result": result, "finished_at": _now()})


def fail(job_id, exc, run_number=None):
    """Mark a running job failed with the exception's type and message, in its own commit;
    with `run_number`, only if that run still holds the job (not a newer re-run)."""
    db.session.rollback()
    job = lock_running(job_id)
    if job is None or (run_number is not None and job.attempts != run_number):
        db.session.rollback()
        return
    _mark_failed(job, type(exc).__name__, public_message(exc)[:2000] or type(exc).__name__)
    db.session.commit()


def _mark_failed(job, error_type, message):
    job.status = "failed"
    job.result = None
    job.error = {"type": error_type, "message": message}
    _finish(job)


def _finish(job):
    job.finished_at = _now()
    job.lease_expires_at = None
    job.request_fingerprint = finished_fingerprint(job.request_fingerprint)
    if any(key in job.payload for key in EPHEMERAL_PAYLOAD_KEYS):
        job.payload = {k: v for k, v in job.payload.items() if k not in EPHEMERAL_PAYLOAD_KEYS}


def sweep(resend_after_s):
    """Send again the jobs whose message is lost: queued, or running on a lease that expired
    (the worker died), not sent for `resend_after_s`, and with no message in the broker.
    Returns how many were sent. Safe to run in several workers at once.

    A job still waiting in the broker's queue (a backlog) is left alone, so N jobs stay N
    messages. With a broker that cannot be read so, the wait before a re-send grows with the
    number of unfinished jobs instead.
    """
    now = _now()
    config = current_app.config
    celery = current_app.extensions["celery"]
    readable = broker_queue.readable(celery)
    if not readable:
        backlog = db.session.scalar(
            select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running"))))
        resend_after_s *= max(1.0, backlog / max(1, config["WORKER_CONCURRENCY"]))
    stale = now - timedelta(seconds=resend_after_s)
    candidates = db.session.scalars(
        select(Job)
        .where(
            Job.status.in_(("queued", "running")),
            or_(Job.status == "queued", Job.lease_expires_at < now),
            or_(Job.enqueued_at.is_(None), Job.enqueued_at < stale),
        )
        .order_by(Job.created_at)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    if not candidates:
        db.session.rollback()
        return 0
    waiting, taken = set(), set()
    if readable:
        try:
            waiting, taken = broker_queue.job_ids_with_messages(
                celery, unacked_older_than_s=lease_seconds(config) + resend_after_s)
        except Exception:
            db.session.rollback()
            log.warning("Could not read the broker's queue; sending no job again now",
                        exc_info=True)
            return 0
    # A running job on an expired lease is lost even if the dead worker's message still
    # waits to be restored: kombu restores it only after its visibility timeout.
    lost = [job for job in candidates
            if str(job.id) not in waiting
            and (job.status == "running" or str(job.id) not in taken)]
    for job in lost:
        job.enqueued_at = now  # the last send; first_enqueued_at stays
    db.session.commit()
    for job in lost:
        enqueue(job)
    if lost:
        log.info("Sweeper sent %d unfinished job(s) again", len(lost))
    return len(lost)
