"""Training principles by rules: principles, a weekly structure and a progression for a plan."""

from typing import NamedTuple

from webapp.llm.offline.parsing import whole_words


class Goal(NamedTuple):
    """A kind of training goal and what a plan for it looks like."""

    words: str  # a regex of the words in a goal that name it
    principle: tuple  # (title, description) of the principle it adds
    sessions: tuple  # the sessions a week rotates through
    step: str  # one step of progress, as "each week, ..." would go on


_GOALS = (
    Goal(r"strength|strong\w*|powerlift\w*|1rm|deadlifts?|squats?|bench",
         ("Lift heavy on the big movements",
          ("Build each session around squats, hinges, presses and rows for 3-6 reps with 2-3 "
           "minutes of rest; accessories come after.")),
         ("Lower-body strength (squat focus)", "Upper-body strength (press and pull)",
          "Full-body strength (hinge focus)", "Upper-body accessories",
          "Lower-body accessories and core"),
         ("add 2.5-5 kg to lower-body lifts and 1-2.5 kg to upper-body lifts whenever you "
          "complete every rep")),
    Goal(r"muscles?|hypertrophy|bulk\w*|size|ton(?:e|ed|ing)|physique",
         ("Accumulate enough volume",
          ("Aim for about 10-20 hard sets per muscle group each week in the 6-15 rep range, "
           "finishing sets one to three reps short of failure.")),
         ("Upper body", "Lower body", "Push: chest, shoulders, triceps", "Pull: back, biceps",
          "Legs and core"),
         "add a rep or a set per exercise, then more weight once you reach the top of the range"),
    Goal(r"endurance|marathon|run\w*|5k|10k|triathlon|cycl\w*|swim\w*|stamina|cardio",
         ("Keep most training easy",
          ("Do about 80% of your training at a conversational effort and make the other 20% "
           "genuinely hard; that balance builds the aerobic base without burning you out.")),
         ("Easy aerobic session at a conversational pace",
          "Intervals: short hard efforts with full recovery", "Long easy session",
          "Strength and mobility", "Tempo: comfortably hard"),
         "grow your weekly volume by no more than about 10%"),
    Goal(r"weight|fat|lean\w*|slim\w*|cut|shred\w*",
         ("Keep lifting while you lose fat",
          ("Strength work tells your body to keep its muscle while you eat in a modest calorie "
           "deficit; daily steps and consistency matter more than any single hard session.")),
         ("Full-body strength", "Brisk walk, cycle or swim, 30-45 minutes",
          "Circuit: strength and cardio", "Intervals: short and hard"),
         ("add a round to your circuits or five minutes to your cardio, and a little weight to "
          "your lifts")),
    Goal(r"mobility|flexib\w*|yoga|stiff\w*|posture",
         ("Little and often",
          ("Short, regular mobility work beats one long session a week; ease into new ranges "
           "and breathe through each position.")),
         ("Hips and lower back", "Shoulders and upper back", "Full-body flow",
          "Hamstrings and calves"),
         "hold each stretch 10-15 seconds longer and work gently into deeper ranges"),
)
_GENERAL_GOAL = Goal(
    "",
    ("Balance strength, cardio and mobility",
     ("Each week, train every major muscle group, do some cardio that raises your breathing, "
      "and spend a few minutes on mobility.")),
    ("Full-body strength", "Cardio, moderate, 30 minutes", "Mobility and core", "Cardio intervals"),
    "add reps first, then load, one small step at a time")
_LEVEL_PRINCIPLES = {
    "beginner": ("Technique first",
                 ("For the first weeks, learn each movement with light loads and leave three "
                  "reps in reserve; good habits now make heavier training safe later.")),
    "intermediate": ("Vary the stimulus",
                     ("Alternate heavier, lower-rep days with lighter, higher-rep days so you "
                      "keep progressing without grinding through the same workout.")),
    "advanced": ("Periodise and autoregulate",
                 ("Give each block a clear emphasis and let effort ratings (RPE) set the day's "
                  "loads, so bad days don't derail the plan and good days count.")),
}
_HEALTH_PRINCIPLE = (
    "Train around your health",
    ("You shared health information with this plan. Check it with your doctor or "
     "physiotherapist before you start, begin at the easy end of every range, and stop and get "
     "advice if anything causes pain, dizziness or unusual breathlessness."))
_DEFAULT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TRAINING_DAYS = {1: (0,), 2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 4, 5),
                  6: (0, 1, 2, 3, 4, 5), 7: tuple(range(7))}


def _sessions(count):
    return f"{count} session{'s' if count > 1 else ''}"


def _weekly_structure(sessions, per_week):
    doubles = max(0, per_week - 7)  # past seven sessions, some days get a second, easy one
    days = _TRAINING_DAYS[min(per_week, 7)]
    lines = [f"{_sessions(per_week)} per week."]
    for i, day in enumerate(_DEFAULT_DAYS[d] for d in days):
        lines.append(f"{day}{' AM' if i < doubles else ''}: {sessions[i % len(sessions)]}")
        if i < doubles:
            lines.append(f"{day} PM: Easy recovery session, mobility or light cardio")
    rest = [day for d, day in enumerate(_DEFAULT_DAYS) if d not in days]
    lines.append(f"Rest days: {', '.join(rest)}. Keep them active with walking or light "
                 "stretching." if rest else
                 "There is no full rest day, so keep the easy sessions truly easy.")
    return "\n".join(lines)


def _progression(step, level, weeks):
    if weeks == 1:
        return (f"Week 1: learn the sessions, find loads that feel like a 6 or 7 out of 10, and "
                f"note what felt easy; in your next plan, {step}.")
    start = "learn the movements with light loads" if level == "beginner" else "settle in"
    phases = [("Foundation", f"{start} at a comfortable effort"), ("Build", f"each week, {step}"),
              ("Peak", "hold the volume steady and push the intensity")]
    # Foundation and peak are short blocks; build takes whatever a longer plan adds.
    edge = min(4, weeks // 3)
    lengths = ([weeks] if weeks <= 2 else [weeks // 2, weeks - weeks // 2] if weeks <= 5
               else [edge, weeks - 2 * edge, edge])
    lines, first = [], 1
    for (name, what), length in zip(phases, lengths):
        last = first + length - 1
        what = f"{what}, then {step}" if len(lengths) == 1 else what
        span = f"Week {first}" if first == last else f"Weeks {first}-{last}"
        lines.append(f"{span}: {name}. {what[0].upper()}{what[1:]}.")
        first = last + 1
    if deloads := list(range(4, weeks, 4)) if weeks >= 8 else []:
        lines.append(f"Deload week{'s' if len(deloads) > 1 else ''} "
                     f"{', '.join(map(str, deloads))}: cut the sets by about 40% and keep loads "
                     "moderate, then pick up where you left off.")
    if weeks >= 4:
        lines.append(f"Week {weeks}: ease off a little, then retest to see how far you've come.")
    return "\n".join(lines)


def compose_training_principles(plan):
    """Principles, a weekly structure and a progression for a plan's goal, level and schedule."""
    goal_text, level = plan["goal"].strip(), plan["experience_level"]
    per_week, weeks = plan["sessions_per_week"], plan["weeks"]
    goal = next((g for g in _GOALS if whole_words(g.words).search(goal_text.lower())),
                _GENERAL_GOAL)
    sessions = f"{_sessions(per_week)} a week"
    if per_week <= 3:
        recovery = f"With {sessions} you have room to recover; use it."
    elif per_week <= 6:
        recovery = f"With {sessions}, alternate harder and easier days and keep a full rest day."
    else:
        recovery = f"With {sessions}, most must be easy; a hard day needs a calm day after it."
    principles = [
        ("Progressive overload",
         f"Make each week a little harder than the last: {goal.step}. Small steps beat big jumps."),
        ("Specificity",
         (f"Every session should move you toward your goal ({goal_text}); favour the movements "
          "and efforts it depends on.")),
        _LEVEL_PRINCIPLES[level], goal.principle,
        ("Recovery",
         f"{recovery} Sleep seven to nine hours; your body adapts between sessions, not in them."),
    ]
    if weeks >= 8:
        principles.append(("Planned deloads", ("Every fourth week, cut the volume by about 40% so "
                                               "fatigue clears and the next block starts fresh.")))
    if str(plan.get("health_notes") or "").strip():
        # The notes stay private (SPEC section 5): cautious advice that does not repeat them.
        principles.insert(0, _HEALTH_PRINCIPLE)
    return {"principles": [{"title": t, "description": d} for t, d in principles],
            "weekly_structure": _weekly_structure(goal.sessions, per_week),
            "progression": _progression(goal.step, level, weeks)}
