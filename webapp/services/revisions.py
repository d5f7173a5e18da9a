"""Accepting a revision: runs in the request, logged like an LLM call."""

from webapp.extensions import db
from webapp.errors import Conflict, NotFound
from webapp.models import Workout, WorkoutRevision
from webapp.db_limits import INT4_MAX
from webapp.models.workout import find_revision_to_accept
from webapp.services.llm_logging_service import log_workout_revision_accept


def accept(user, workout_id, revision_id=None):
    """Apply the revision to the user's workout and return the workout.

    404 when there is no such pending revision of a workout of the user's; 409 when the
    revision is no longer pending or was made against an older version of the workout.
    """
    if workout_id is None or workout_id > INT4_MAX:
        raise NotFound(Workout.not_found_message(workout_id))
    request_data = {"workout_id": workout_id, "revision_id": revision_id}
    with log_workout_revision_accept(user, request_data, workout_id=workout_id) as call:
        workout = Workout.get_owned_or_404(workout_id, user, for_update=True)
        revision = find_revision_to_accept(workout, revision_id)
        call.update_request_data(revision_id=revision.id, revised_workout=revision.summary())
        # The accept is about the LLM's revision, refused or not: it counts under the model and
        # prompt that wrote it.
        call.set_fields(model=revision.model, prompt_name=revision.prompt_name,
                        prompt_version=revision.prompt_version)
        if revision.status != "pending":
            raise Conflict(f"Revision {revision.id} is {revision.status}, not pending.")
        if revision.base_version != workout.version:
            raise Conflict(
                f"Revision {revision.id} was made against version {revision.base_version} "
                f"of the workout, which is now at version {workout.version}.",
            )
        workout.apply(revision.revised)
        revision.status = "accepted"
        revision.decided_at = db.func.now()
        WorkoutRevision.supersede_pending(workout.id, except_id=revision.id)
        db.session.commit()
        call.log_success(
            response_summary=(
                f'Accepted revision {revision.id} of workout {workout.id}: now version '
                f'{workout.version}, "{workout.title}" with {len(workout.exercises)} exercises'
            )
        )
        return workout
