"""Reading your workouts and training plans."""

from apiflask import APIBlueprint

from webapp.api import schemas
from webapp.auth import current_user, login_required
from webapp.models import TrainingPlan, Workout
from webapp.services import llm_usage

bp = APIBlueprint("workouts", __name__, tag="Workouts")


@bp.get("/workouts")
@login_required
@bp.input(schemas.WorkoutListQuery, location="query", arg_name="query")
@bp.output(schemas.WorkoutListOut)
def list_workouts(query):
    """Your workouts, newest first."""
    user = current_user()
    workouts, total = Workout.page_owned(user, query["limit"], query["offset"])
    usage = llm_usage.of_workouts(user.id, [workout.id for workout in workouts])
    return {
        "items": [{**workout.to_dict(), "llm_usage": usage[workout.id]} for workout in workouts],
        "total": total,
        "limit": query["limit"],
        "offset": query["offset"],
    }


@bp.get("/workouts/<int:workout_id>")
@login_required
@bp.output(schemas.WorkoutOut)
def get_workout(workout_id):
    """One of your workouts."""
    user = current_user()
    workout = Workout.get_owned_or_404(workout_id, user)
    return {**workout.to_dict(), "llm_usage": llm_usage.of_workout(user.id, workout.id)}


@bp.get("/training-plans/<int:plan_id>")
@login_required
@bp.output(schemas.TrainingPlanOut)
def get_training_plan(plan_id):
    """One of your training plans."""
    user = current_user()
    plan = TrainingPlan.get_owned_or_404(plan_id, user)
    return {**plan.to_dict(), "llm_usage": llm_usage.of_training_plan(user.id, plan.id)}
