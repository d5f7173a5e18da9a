"""Reading your workouts and training plans."""

from apiflask import APIBlueprint

from webapp.api import schemas
from webapp.auth import current_user, login_required
from webapp.models import TrainingPlan, Workout

bp = APIBlueprint("workouts", __name__, tag="Workouts")


@bp.get("/workouts")
@login_required
@bp.input(schemas.WorkoutListQuery, location="query", arg_name="query")
@bp.output(schemas.WorkoutListOut)
def list_workouts(query):
    """Your workouts, newest first."""
    workouts, total = Workout.page_owned(current_user(), query["limit"], query["offset"])
    return {
        "items": [workout.to_dict() for workout in workouts],
        "total": total,
        "limit": query["limit"],
        "offset": query["offset"],
    }


@bp.get("/workouts/<int:workout_id>")
@login_required
@bp.output(schemas.WorkoutOut)
def get_workout(workout_id):
    """One of your workouts."""
    return Workout.get_owned_or_404(workout_id, current_user()).to_dict()


@bp.get("/training-plans/<int:plan_id>")
@login_required
@bp.output(schemas.TrainingPlanOut)
def get_training_plan(plan_id):
    """One of your training plans."""
    return TrainingPlan.get_owned_or_404(plan_id, current_user()).to_dict()
