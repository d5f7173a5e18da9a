"""The Celery tasks: each runs one job of an LLM operation, by id.

One task name per operation, so queues and monitoring can tell them apart; the job
row says what to run.
"""

from celery import shared_task

from webapp.services.llm_operations import run_job


@shared_task(name="tasks.create_workout")
def create_workout(job_id):
    """Run a `workout_creation` job."""
    run_job(job_id)


@shared_task(name="tasks.create_training_principles")
def create_training_principles(job_id):
    """Run a `training_principles_creation` job."""
    run_job(job_id)


@shared_task(name="tasks.revise_workout")
def revise_workout(job_id):
    """Run a `workout_revision` job."""
    run_job(job_id)
