"""Composing a workout by rules: library moves for a request, dosed and fitted to its length."""

from webapp.llm.offline.exercise_library import BY_NAME, EXERCISES
from webapp.llm.offline.parsing import FOCUSES, GYM_KIT, KIT, WorkoutRequest

SECONDS_PER_REP = 3
WARM_UP, COOL_DOWN = "Warm-up: ", "Cool-down: "
_DOSE = {"beginner": (2, 60, 0.8), "intermediate": (3, 45, 1.0), "advanced": (4, 40, 1.2)}
TIPS = {
    "beginner": "Move at your own pace and stop each set while your form is still clean.",
    "intermediate": "Work at a steady, challenging effort: the last reps of each set should feel "
                    "hard but clean.",
    "advanced": "Push the final set of each exercise close to your limit, but never at the cost of "
                "form.",
    "mobility": "Move slowly and breathe; ease off at any sharp or pinching feeling.",
}


def round_to_5(value):
    """The value rounded to the nearest multiple of five, as people count seconds."""
    return int(5 * round(value / 5))


def library_move(item):
    """The library exercise a workout exercise names, or None for a move the library lacks."""
    return BY_NAME.get(item["name"].lower())


def suits(ex, level, available, low_impact):
    """Whether a library move fits a session's level, equipment and impact."""
    return ex.equipment in available and level in ex.levels and not (low_impact and ex.jumping)


def candidates(focus, level, available, preferred=frozenset(), low_impact=False, exclude=()):
    """Library moves for the focus keys, visiting their tags in turn, preferred equipment first."""
    taken = {name.lower() for name in exclude}
    tags = list(dict.fromkeys(tag for key in focus for tag in FOCUSES[key].tags))

    def fits(ex, tag):
        """Whether a move can serve this tag in this session; mobility may use warm-up moves."""
        return (tag in ex.focus and suits(ex, level, available, low_impact)
                and (tag == "mobility" or ex.phase == "main"))

    # Moves that mainly train the tag lead, so a back day starts with rows, not deadlifts.
    queues = [[ex for ex in sorted(EXERCISES, key=lambda ex: (ex.equipment not in preferred,
                                                               ex.focus[0] != tag))
               if fits(ex, tag)] for tag in tags]
    while any(queues):
        for queue in queues:
            while queue:
                ex = queue.pop(0)
                if ex.name.lower() not in taken:
                    taken.add(ex.name.lower())
                    yield ex
                    break


def prescribe(ex, level, label=""):
    """One workout exercise for a library move, dosed for the level."""
    sets, rest, scale = _DOSE[level]
    if ex.phase != "main":
        sets, rest, scale = 1, 15, 1
    elif ex.equipment == "barbell":
        rest += 45  # heavy compound lifts need the longer break to keep form
    elif "cardio" in ex.focus and ex.unit == "seconds":
        rest = max(15, rest - 15)
    amount = ex.amount * scale
    return {"name": ex.name, "sets": sets,
            "reps": max(1, round(amount)) if ex.unit == "reps" else None,
            "duration_seconds": max(10, round_to_5(amount)) if ex.unit == "seconds" else None,
            "rest_seconds": rest,
            "notes": label + ex.cue + (" Count each side." if ex.per_side else "")}


def phase_label(item):
    """The warm-up or cool-down label an exercise's notes start with; empty for a main move."""
    return next((label for label in (WARM_UP, COOL_DOWN) if item["notes"].startswith(label)), "")


def is_main(item):
    """Whether an exercise belongs to the main block rather than the warm-up or cool-down."""
    return not phase_label(item)


def main_block(items):
    """The exercises of the main block, in order."""
    return [item for item in items if is_main(item)]


def seconds_of(item):
    """Estimated time an exercise takes: every set's work plus its rest."""
    ex = library_move(item)
    work = item["duration_seconds"] or (item["reps"] or 0) * SECONDS_PER_REP
    return item["sets"] * (work * (2 if ex and ex.per_side else 1) + item["rest_seconds"])


def total_seconds(items):
    """Estimated time a list of exercises takes."""
    return sum(map(seconds_of, items))


def fit(items, budget, keep=lambda item: False, shrink=True, grow=True):
    """Trim sets, then trailing main moves, or add sets, until items roughly fill budget seconds."""
    main = main_block(items) or list(items)

    def total():
        """The session's estimated seconds as it stands now."""
        return total_seconds(items)

    for floor in (2, 1):  # fewer sets before fewer moves, and never fewer than two moves
        while shrink and total() > budget * 1.1 and any(item["sets"] > floor for item in main):
            max(reversed(main), key=lambda item: item["sets"])["sets"] -= 1
        while shrink and floor == 2 and total() > budget * 1.1 and len(main) > 2:
            victim = next((item for item in reversed(main) if not keep(item)), main[-1])
            main.remove(victim)
            items.remove(victim)
    while grow and total() < budget * 0.9:
        room = [item for item in main if item["sets"] < 20
                and total() + seconds_of(item) / item["sets"] <= budget * 1.1]
        if not room:
            break
        min(room, key=lambda item: item["sets"])["sets"] += 1
    return items


def compose_workout(prompt):
    """A workout for a free-text prompt, sized to the minutes it asks for."""
    req = WorkoutRequest.from_prompt(prompt)
    budget, extras = req.minutes * 60, 1 if req.minutes < 45 else 2
    warm_up, cool_down = [], []
    if req.minutes >= 20 and "mobility" not in req.focus:
        warm_up = [prescribe(ex, req.level, WARM_UP) for ex in EXERCISES
                   if ex.phase == "warmup" and req.level in ex.levels][:extras]
        cool_down = [prescribe(ex, req.level, COOL_DOWN) for ex in EXERCISES
                     if ex.phase == "cooldown"][:extras]
    main_budget = budget - total_seconds(warm_up + cool_down)
    most = max(12, min(46, req.minutes // 7))  # long sessions get more moves, not endless sets
    main = []
    for ex in candidates(req.focus, req.level, req.available, req.preferred, req.low_impact):
        item = prescribe(ex, req.level)
        if len(main) >= 3 and total_seconds(main) + seconds_of(item) > main_budget:
            break
        main.append(item)
        if len(main) == most:
            break
    exercises = fit(warm_up + main + cool_down, budget)
    return {"title": _title(req), "description": _description(req, exercises),
            "duration_minutes": req.minutes, "difficulty": req.level, "exercises": exercises}


def _title(req):
    kind = f"{' & '.join(FOCUSES[key].label for key in req.focus[:2])} Workout"
    if req.focus in (("mobility",), ("cardio",)):
        kind = {"mobility": "Mobility Flow", "cardio": "Cardio Conditioning"}[req.focus[0]]
    impact = "Low-Impact " if req.low_impact else ""
    title = f"{req.minutes}-Minute {impact}{req.level.title()} {kind}"
    if req.preferred and req.preferred != GYM_KIT:
        title += " with " + " & ".join(sorted(KIT[kit][1] for kit in req.preferred))
    return title


def plan_sentence(exercises):
    """The description's sentence on how many moves, how many sets and how much rest."""
    main = main_block(exercises) or exercises
    sets = [item["sets"] for item in main]
    usual = max(set(sets), key=sets.count)
    rest = round_to_5(sum(item["rest_seconds"] for item in main) / len(main))
    plan = (f"work through {len(main)} exercises, mostly {usual} set{'s' if usual > 1 else ''} "
            f"each, resting about {rest} seconds between sets")
    if len(main) < len(exercises):
        return f"Start with a short warm-up, then {plan}, and finish with a stretch."
    return plan[0].upper() + plan[1:] + "."


def _description(req, exercises):
    what = FOCUSES[req.focus[0]].blurb + "".join(
        f", with extra {FOCUSES[key].label.lower()} work" for key in req.focus[1:3])
    if req.preferred == GYM_KIT:
        kit = "It's written for the gym, so make use of the barbell, dumbbells and kettlebells."
    elif req.preferred:
        kit = f"All you need is {' and '.join(sorted(KIT[k][2] for k in req.preferred))}."
    else:
        kit = "No equipment needed, just a bit of floor space."
    impact = (" Everything stays low-impact with no jumping, so it's kind to your knees and quiet "
              "enough for an apartment.") if req.low_impact else ""
    tip = TIPS["mobility" if req.focus == ("mobility",) else req.level]
    plan = plan_sentence(exercises)
    return f"This {req.minutes}-minute session {what}. {kit} {plan}{impact} {tip}"
