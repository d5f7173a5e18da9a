"""Polling a job."""

from apiflask import APIBlueprint

from webapp.api.schemas import JobOut
from webapp.auth import current_user, login_required
from webapp.models import Job

bp = APIBlueprint("jobs", __name__, tag="Jobs")


@bp.get("/jobs/<uuid:job_id>")
@login_required
@bp.output(JobOut)
def get_job(job_id):
    """One of your jobs: its status, and its result or error once it has ended."""
    return Job.get_owned_or_404(job_id, current_user()).to_dict()
