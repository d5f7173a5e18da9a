"""The built-in offline backend: an OpenAI-compatible Chat Completions server run by rules.

It serves when no LLM is configured (SPEC section 3). The app's real ``openai`` client reaches
it in-process through a WSGI transport, so offline calls are made, validated and logged exactly
like real ones. No model is involved: answers are composed from the request and the exercise
library, and the same request always gets the same answer.
"""

import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from typing import NamedTuple

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.llm.exercise_library import BY_NAME, EQUIPMENT, EXERCISES
from webapp.llm.schemas import Exercise, WorkoutDraft

OFFLINE_MODEL = "offline-rules-v1"
LEVELS = ("beginner", "intermediate", "advanced")
SECONDS_PER_REP = 3
WARM_UP, COOL_DOWN = "Warm-up: ", "Cool-down: "
GYM_KIT = frozenset(EQUIPMENT) - {"none"}


class Focus(NamedTuple):
    """A training focus a user can ask for."""

    label: str  # as it reads in a title
    tags: tuple  # the library focus tags it draws on, in the order a session visits them
    words: str  # a regex of the words that ask for it
    blurb: str  # what it does, for the description


FOCUSES = {
    "legs": Focus("Leg", ("legs",), r"legs?|lower[- ]body|quads?|hamstrings?|calf|calves",
                  "builds strength in your quads, hamstrings and calves"),
    "glutes": Focus("Glute", ("glutes",), r"glutes?|butt|booty",
                    "works the glutes from every angle"),
    "upper_body": Focus("Upper-Body", ("chest", "back", "shoulders", "arms"), r"upper[- ]body",
                        "covers chest, back, shoulders and arms"),
    "chest": Focus("Chest", ("chest",), r"chest|pecs?",
                   "builds pressing strength through the chest"),
    "back": Focus("Back", ("back",), r"back|lats|posture",
                  "strengthens your back for better posture"),
    "shoulders": Focus("Shoulder", ("shoulders",), r"shoulders?|delts?",
                       "builds strong, stable shoulders"),
    "arms": Focus("Arm", ("arms",), r"arms?|biceps?|triceps?",
                  "puts your biceps and triceps to work"),
    "core": Focus("Core", ("core",), r"core|abs|abdominals?|six[- ]pack|obliques",
                  "trains your core to brace and stay stable"),
    "full_body": Focus("Full-Body", ("legs", "chest", "back", "core", "full_body", "glutes",
                                     "shoulders", "arms"),
                       r"full[- ]body|total[- ]body|whole[- ]body",
                       "hits every major muscle group"),
    "cardio": Focus("Cardio", ("cardio",),
                    r"cardio|conditioning|hiit|endurance|fat[- ]burn\w*|sweat\w*",
                    "keeps your heart rate up from start to finish"),
    "mobility": Focus("Mobility", ("mobility",),
                      r"mobility|stretch\w*|flexib\w*|yoga|cool[- ]?down",
                      "loosens tight hips, shoulders and spine"),
}
# A body part named as a complaint ("bad knees", "back pain") is not a request to train it.
_COMPLAINT = re.compile(r"\b(?:bad|sore|injured|hurt|painful|weak)\s+\w+"
                        r"|\b\w+\s+(?:pain|injur\w*|issues?|problems?)\b")
_NO_JUMPING = re.compile(r"no[- ]?jump\w*|without jump\w*|(?:don'?t|can'?t|cannot) jump"
                         r"|no plyo\w*|low[- ]impact|quiet|apartment|downstairs|neighbou?rs?"
                         r"|knees?\b|joints?\b|pregnan\w*")
_JUMPY_NAME = re.compile(r"jump|hop\b|burpee|plyo|bound|skip|jacks|high knees|tuck")
# key: (words that name it, as a title says it, as a description says it)
_KIT = {"dumbbells": (r"dumbbells?|dbs?", "Dumbbells", "a pair of dumbbells"),
        "kettlebell": (r"kettlebells?|kbs?", "a Kettlebell", "a kettlebell"),
        "barbell": (r"barbells?", "a Barbell", "a barbell"),
        "band": (r"(?:resistance )?bands?", "a Band", "a resistance band"),
        "pull_up_bar": (r"pull[- ]?up bar|chin[- ]?up bar", "a Pull-Up Bar", "a pull-up bar")}
_DOSE = {"beginner": (2, 60, 0.8), "intermediate": (3, 45, 1.0), "advanced": (4, 40, 1.2)}
_TIPS = {
    "beginner": "Move at your own pace and stop each set while your form is still clean.",
    "intermediate": "Work at a steady, challenging effort: the last reps of each set should feel "
                    "hard but clean.",
    "advanced": "Push the final set of each exercise close to your limit, but never at the cost of "
                "form.",
    "mobility": "Move slowly and breathe; ease off at any sharp or pinching feeling.",
}
_NUMBER_WORDS = {"five": 5, "ten": 10, "fifteen": 15, "twenty": 20, "twenty-five": 25, "thirty": 30,
                 "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "one": 1,
                 "two": 2}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_HOURS, _MINUTES = r"\s*-?\s*(?:h|hrs?|hours?)\b", r"\s*-?\s*(?:m|mins?|minutes?)\b"


class OfflineRequestError(ValueError):
    """A request the offline backend cannot answer; sent back as a 400."""


def _words(pattern):
    return re.compile(rf"\b(?:{pattern})\b")


def _number(word):
    return float(word) if word[0].isdigit() else _NUMBER_WORDS[word]


def _round5(value):
    return int(5 * round(value / 5))


# --- reading a prompt -------------------------------------------------------------------------

def parse_minutes(text):
    """The session length a text asks for, in minutes, or None when it names none."""
    text = text.lower()
    if re.search(r"\b(?:an?|one) hour and a half\b|\bhour and a half\b", text):
        return 90
    if re.search(r"\bhalf an? hour\b|\bhalf-hour\b", text):
        return 30
    if match := re.search(rf"\b{_NUM}{_HOURS}(?:\s*(?:and\s*)?(a half|{_NUM}{_MINUTES}))?", text):
        extra = 30 if match[2] == "a half" else _number(match[3]) if match[3] else 0
        return round(_number(match[1]) * 60 + extra)
    if match := re.search(rf"\b(?:an?|one) hour\b(?:\s*and\s*{_NUM}{_MINUTES})?", text):
        return 60 + (round(_number(match[1])) if match[1] else 0)
    if match := re.search(rf"\b{_NUM}{_MINUTES}", text):
        return round(_number(match[1]))
    return None


def parse_focus(text):
    """The focus keys a text asks for, in the order it names them."""
    text = _COMPLAINT.sub(" ", text.lower())
    found = [(m.start(), key) for key, focus in FOCUSES.items()
             if (m := _words(focus.words).search(text))]
    return tuple(key for _, key in sorted(found))


def parse_level(text):
    """The experience level a text asks for; intermediate when it names none."""
    text = text.lower()
    if match := re.search(r"\b(beginner|intermediate|advanced)s?\b", text):
        return match[1]
    if re.search(r"\b(?:novice|new to|starting out|first time|easy(?! on)|gentle|out of shape)\b",
                 text):
        return "beginner"
    if re.search(r"\b(?:experienced|athlete|hard|intense|challenging|brutal|tough)\b", text):
        return "advanced"
    return "intermediate"


def parse_equipment(text):
    """The equipment available, and the part of it the text asks to use."""
    text = text.lower()
    if _words(r"gym|fully equipped|all equipment|any equipment").search(text):
        return frozenset(EQUIPMENT), GYM_KIT
    named = frozenset(key for key, (words, _, _) in _KIT.items() if _words(words).search(text))
    return named | {"none"}, named


@dataclass(frozen=True)
class WorkoutRequest:
    """What a free-text workout prompt asks for."""

    minutes: int
    focus: tuple
    level: str
    available: frozenset
    preferred: frozenset
    low_impact: bool

    @classmethod
    def from_prompt(cls, prompt):
        """Read a prompt by keyword, filling the gaps with sensible defaults."""
        available, preferred = parse_equipment(prompt)
        return cls(minutes=max(10, min(300, parse_minutes(prompt) or 30)),
                   focus=parse_focus(prompt) or ("full_body",), level=parse_level(prompt),
                   available=available, preferred=preferred,
                   low_impact=bool(_NO_JUMPING.search(prompt.lower())))


# --- composing a workout ----------------------------------------------------------------------

def candidates(focus, level, available, preferred=frozenset(), low_impact=False, exclude=()):
    """Library moves for the focus keys, visiting their tags in turn, preferred equipment first."""
    taken = {name.lower() for name in exclude}
    tags = list(dict.fromkeys(tag for key in focus for tag in FOCUSES[key].tags))

    def fits(ex, tag):
        """Whether a move can serve this tag in this session; mobility may use warm-up moves."""
        return (tag in ex.focus and ex.equipment in available and level in ex.levels
                and not (low_impact and ex.jumping) and (tag == "mobility" or ex.phase == "main"))

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
            "duration_seconds": max(10, _round5(amount)) if ex.unit == "seconds" else None,
            "rest_seconds": rest,
            "notes": label + ex.cue + (" Count each side." if ex.per_side else "")}


def is_main(item):
    """Whether an exercise belongs to the main block rather than the warm-up or cool-down."""
    return not item["notes"].startswith((WARM_UP, COOL_DOWN))


def seconds_of(item):
    """Estimated time an exercise takes: every set's work plus its rest."""
    ex = BY_NAME.get(item["name"].lower())
    work = item["duration_seconds"] or (item["reps"] or 0) * SECONDS_PER_REP
    return item["sets"] * (work * (2 if ex and ex.per_side else 1) + item["rest_seconds"])


def fit(items, budget, keep=lambda item: False, shrink=True, grow=True):
    """Trim sets, then trailing main moves, or add sets, until items roughly fill budget seconds."""
    main = [item for item in items if is_main(item)] or list(items)

    def total():
        """The session's estimated seconds as it stands now."""
        return sum(map(seconds_of, items))

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
    main_budget = budget - sum(map(seconds_of, warm_up + cool_down))
    most = max(12, min(46, req.minutes // 7))  # long sessions get more moves, not endless sets
    main = []
    for ex in candidates(req.focus, req.level, req.available, req.preferred, req.low_impact):
        item = prescribe(ex, req.level)
        if len(main) >= 3 and sum(map(seconds_of, main)) + seconds_of(item) > main_budget:
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
        title += " with " + " & ".join(sorted(_KIT[kit][1] for kit in req.preferred))
    return title


def _plan_sentence(exercises):
    main = [item for item in exercises if is_main(item)] or exercises
    sets = [item["sets"] for item in main]
    usual = max(set(sets), key=sets.count)
    rest = _round5(sum(item["rest_seconds"] for item in main) / len(main))
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
        kit = f"All you need is {' and '.join(sorted(_KIT[k][2] for k in req.preferred))}."
    else:
        kit = "No equipment needed, just a bit of floor space."
    impact = (" Everything stays low-impact with no jumping, so it's kind to your knees and quiet "
              "enough for an apartment.") if req.low_impact else ""
    tip = _TIPS["mobility" if req.focus == ("mobility",) else req.level]
    plan = _plan_sentence(exercises)
    return f"This {req.minutes}-minute session {what}. {kit} {plan}{impact} {tip}"


# --- revising a workout from feedback ---------------------------------------------------------

_FEEDBACK = {name: re.compile(pattern) for name, pattern in {
    "shorter": r"\b(?:shorter|shorten|less time|quicker|too long|short on time|cut it down|trim)\b"
               r"(?!\s+(?:rest|breaks?))",
    "longer": r"\b(?:longer|lengthen|more time|extend|too short)\b(?!\s+(?:rest|breaks?))",
    "easier": r"\b(?:easier|too hard|too difficult|too intense|less intense|gentler|simpler)\b",
    "harder": r"\b(?:harder|too easy|more (?:intense|challenging|difficult)|tougher"
              r"|challenge me)\b",
    "less_rest": r"\b(?:less|shorter|fewer) (?:rest|breaks?)\b|\brest less\b",
    "more_rest": r"\b(?:more|longer) (?:rest|breaks?)\b|\brest (?:more|longer)\b",
    "more_focus": r"\b(?:more|add|extra|additional|include|focus on|emphasi[sz]e)\b",
}.items()}


_RELATIVE = re.compile(r"\b(?:add|another|extra|by|cut|off|minus)\b"
                       r"|minutes? (?:longer|more|shorter|less|fewer)\b")
_CUT = re.compile(r"\b(?:cut|off|minus)\b|minutes? (?:shorter|less|fewer)\b")
_ABSOLUTE = re.compile(rf"\bto\s+(?:an?\b|half\b|{_NUM})")


def _is_jumping(item):
    ex = BY_NAME.get(item["name"].lower())
    return ex.jumping if ex else bool(_JUMPY_NAME.search(item["name"].lower()))


def _tags(item):
    ex = BY_NAME.get(item["name"].lower())
    return set(ex.focus) if ex else {"cardio", "legs"} if _is_jumping(item) else {"full_body"}


class Revision:
    """A workout being revised; each step applies one kind of feedback and says what it did."""

    def __init__(self, workout):
        self.workout, self.items = workout, [dict(item) for item in workout["exercises"]]
        self.minutes, self.level = workout["duration_minutes"], workout["difficulty"]
        known = [BY_NAME[i["name"].lower()] for i in self.items if i["name"].lower() in BY_NAME]
        # New moves use only the kit the workout already needs, and jump only if it already did.
        self.available = frozenset({"none"} | {ex.equipment for ex in known})
        self.low_impact = not any(map(_is_jumping, self.items))
        self.keep, self.shrink, self.grow = (lambda item: False), True, True

    def main(self):
        """The exercises of the main block."""
        return [item for item in self.items if is_main(item)]

    def swap(self, item, note):
        """Replace one exercise by the closest fitting low-impact library move; its name or None."""
        present, tags = {i["name"].lower() for i in self.items}, _tags(item)
        fitting = [ex for ex in EXERCISES if ex.phase == "main" and not ex.jumping
                   and ex.equipment in self.available and self.level in ex.levels
                   and ex.name.lower() not in present and tags & set(ex.focus)]
        if not fitting:
            return None
        ex = max(fitting, key=lambda ex: len(tags & set(ex.focus)))  # the first of equals wins
        label = next((p for p in (WARM_UP, COOL_DOWN) if item["notes"].startswith(p)), "")
        new = prescribe(ex, self.level, label)
        new.update(sets=item["sets"], rest_seconds=item["rest_seconds"],
                   notes=f"{new['notes']} ({note} {item['name']}.)")
        self.items[self.items.index(item)] = new
        return ex.name

    def redose(self, scale, rest_step):
        """Scale reps and hold times and shift rest, within the schema's bounds."""
        for item in self.main():
            if item["reps"]:
                item["reps"] = max(1, min(1000, round(item["reps"] * scale)))
            if item["duration_seconds"]:
                seconds = _round5(item["duration_seconds"] * scale)
                item["duration_seconds"] = max(10, min(7200, seconds))
            item["rest_seconds"] = max(10, min(900, item["rest_seconds"] + rest_step))

    def change_length(self, text, asked):
        """Named minutes, "shorter" or "longer": a new length, and one move fewer when shorter."""
        wanted, old = parse_minutes(text), self.minutes
        if not wanted and not asked & {"shorter", "longer"}:
            return None
        if not wanted:
            wanted = round(old * 0.75) if "shorter" in asked else max(old + 10, round(old * 1.25))
        elif _RELATIVE.search(text) and not _ABSOLUTE.search(text):
            # "add 10 minutes", "10 minutes shorter": an amount to change by, not a new length
            wanted = old - wanted if "shorter" in asked or _CUT.search(text) else old + wanted
        self.minutes = max(10, min(300, wanted))
        self.shrink, self.grow = self.minutes <= old, self.minutes >= old
        if self.minutes < old and len(self.main()) > 1:
            self.items.remove(self.main()[-1])
        if self.minutes == old:
            limit = ", the limit I work with" if old in (10, 300) else ""
            return f"kept it at {old} minutes{limit}"
        return f"changed the length from {old} to {self.minutes} minutes"

    def avoid_jumping(self, text, asked):
        """"No jumping", "low impact", "knees": swap each jumping move for a low-impact one."""
        if not _NO_JUMPING.search(text):
            return None
        self.low_impact, swaps = True, []
        for item in [item for item in self.items if _is_jumping(item)]:
            if new_name := self.swap(item, "Low-impact swap for"):
                swaps.append(f"{item['name']} for {new_name}")
            elif len(self.items) > 1:
                self.items.remove(item)
        if not swaps:
            return "checked for jumping moves; there were none to swap"
        return f"swapped {', '.join(swaps)} to keep it low-impact"

    def add_focus(self, text, asked):
        """"More legs", "add core": two moves of that focus; others make room if time is short."""
        focus = parse_focus(text) if "more_focus" in asked else ()
        if not focus:
            return None
        pool = candidates(focus, self.level, self.available, self.available - {"none"},
                          self.low_impact, [item["name"] for item in self.items])
        fresh = [prescribe(ex, self.level) for ex in list(pool)[:2]]
        at = next((i for i, item in enumerate(self.items) if item["notes"].startswith(COOL_DOWN)),
                  len(self.items))
        self.items[at:at] = fresh
        wanted = {tag for key in focus for tag in FOCUSES[key].tags}
        self.keep = lambda item: bool(_tags(item) & wanted)
        label = " and ".join(FOCUSES[key].label.lower() for key in focus)
        if not fresh:
            return f"looked for more {label} moves, but the plan already has every one that fits"
        return f"added more {label} work ({', '.join(item['name'] for item in fresh)})"

    def change_level(self, text, asked):
        """"Easier" or "harder": a level down or up, with reps, holds and rest to match."""
        if "easier" in asked:
            self.level = LEVELS[max(0, LEVELS.index(self.level) - 1)]
            self.redose(0.8, 15)
            for item in [i for i in self.items if i["name"].lower() in BY_NAME
                         and self.level not in BY_NAME[i["name"].lower()].levels]:
                if not self.swap(item, "Simpler swap for") and len(self.main()) > 1:
                    self.items.remove(item)
            return f"made it easier ({self.level} level): fewer reps, longer rests, simpler moves"
        if "harder" in asked:
            self.level = LEVELS[min(2, LEVELS.index(self.level) + 1)]
            self.redose(1.2, -15)
            return f"made it harder ({self.level} level): more reps, shorter rests, more work"
        return None

    def change_rest(self, text, asked):
        """"Less rest" or "more rest" between sets; the time saved or spent changes the sets."""
        if "less_rest" in asked:
            for item in self.main():
                item["rest_seconds"] = max(10, _round5(item["rest_seconds"] * 0.6))
            return "cut the rest between sets"
        if "more_rest" in asked:
            for item in self.main():
                item["rest_seconds"] = min(180, item["rest_seconds"] + 30)
            return "added rest between sets"
        return None

    def vary(self):
        """For feedback no rule understands: swap the last main move and say how to ask."""
        last = (self.main() or self.items)[-1]
        old_name, new_name = last["name"], self.swap(last, "Variation on")
        swapped = f" and swapped {old_name} for {new_name} for some variety" if new_name else ""
        return (f"Coach's note: I couldn't tie that feedback to a specific change, so I kept the "
                f"plan{swapped}. Ask for it shorter, longer, easier, harder, with less rest, "
                "without jumping, or with more of a body part for a bigger change.")

    def result(self, note):
        """The revised workout, its title and description brought up to date."""
        # The coach's description stays; only the facts that changed are rewritten.
        base = re.sub(r"^(?:What changed|Coach's note):.*?\n\n", "", self.workout["description"],
                      flags=re.DOTALL)
        base = re.sub(r"\b\d+-minute\b", f"{self.minutes}-minute", base)
        base = re.sub(r"(?:Start with a short warm-up, then w|W)ork through \d+ exercises[^.]*\.",
                      lambda _: _plan_sentence(self.items), base)
        for tip in (_TIPS[name] for name in LEVELS):
            base = base.replace(tip, _TIPS[self.level])
        title = re.sub(r"\b\d+-Minute\b", f"{self.minutes}-Minute", self.workout["title"])
        title = re.sub(r"\b(?:Beginner|Intermediate|Advanced)\b", self.level.title(), title)
        return {"title": title, "description": f"{note}\n\n{base}"[:4000],
                "duration_minutes": self.minutes, "difficulty": self.level,
                "exercises": self.items[:50]}


_REVISION_STEPS = (Revision.change_length, Revision.avoid_jumping, Revision.add_focus,
                   Revision.change_level, Revision.change_rest)


def revise_workout(workout, feedback):
    """The workout changed as feedback asks; unknown feedback gets a light variation and a note."""
    revision, text = Revision(workout), feedback.lower()
    asked = {name for name, pattern in _FEEDBACK.items() if pattern.search(text)}
    changes = [change for step in _REVISION_STEPS if (change := step(revision, text, asked))]
    if not changes:
        return revision.result(revision.vary())
    fit(revision.items, revision.minutes * 60, revision.keep, revision.shrink, revision.grow)
    return revision.result("What changed: I " + "; ".join(changes) + ".")


# --- training principles ----------------------------------------------------------------------

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


def _read_plan(text):
    try:
        plan = json.loads(text)
    except (ValueError, RecursionError):
        plan = None
    if not isinstance(plan, dict):
        raise OfflineRequestError("The last user message must be the plan as a JSON object.")
    if not isinstance(plan.get("goal"), str) or not plan["goal"].strip():
        raise OfflineRequestError("The training plan needs a goal.")
    if plan.get("experience_level") not in LEVELS:
        raise OfflineRequestError("experience_level must be beginner, intermediate or advanced.")
    for key, top in (("sessions_per_week", 14), ("weeks", 52)):
        if type(plan.get(key)) is not int or not 1 <= plan[key] <= top:
            raise OfflineRequestError(f"{key} must be a whole number from 1 to {top}.")
    return plan


def _weekly_structure(sessions, per_week):
    doubles = max(0, per_week - 7)  # past seven sessions, some days get a second, easy one
    days = _TRAINING_DAYS[min(per_week, 7)]
    lines = [f"{per_week} session{'s' if per_week > 1 else ''} per week."]
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
    goal = next((g for g in _GOALS if _words(g.words).search(goal_text.lower())), _GENERAL_GOAL)
    sessions = f"{per_week} session{'s' if per_week > 1 else ''} a week"
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


# --- the HTTP surface -------------------------------------------------------------------------

app = Flask(__name__)


def _text(content):
    """A message's text, whether a string or a list of content parts."""
    if isinstance(content, list):
        return "".join(part["text"] for part in content
                       if isinstance(part, dict) and isinstance(part.get("text"), str))
    return content if isinstance(content, str) else ""


def _current_workout(user_texts):
    """The workout under revision: the latest earlier user message starting `Current workout:`."""
    text = next((t.strip() for t in reversed(user_texts[:-1])
                 if t.lstrip().startswith("Current workout:")), None)
    if text is None:
        raise OfflineRequestError("A revision needs an earlier user message starting with "
                                  "'Current workout:'.")
    try:
        raw, _ = json.JSONDecoder().raw_decode(text, text.index("{"))
        # The app may send its stored workout (id, version, ...): keep the draft's own fields.
        raw = {key: value for key, value in raw.items() if key in WorkoutDraft.model_fields}
        if isinstance(raw.get("exercises"), list):
            raw["exercises"] = [{k: v for k, v in e.items() if k in Exercise.model_fields}
                                if isinstance(e, dict) else e for e in raw["exercises"]]
        return WorkoutDraft.model_validate(raw).model_dump()
    except (ValueError, RecursionError) as exc:  # pydantic's ValidationError is a ValueError
        raise OfflineRequestError(f"The current workout is not valid: {str(exc)[:300]}") from None


COMPOSERS = {
    "workout": lambda texts: compose_workout(texts[-1]),
    "workout_revision": lambda texts: revise_workout(_current_workout(texts), texts[-1]),
    "training_principles": lambda texts: compose_training_principles(_read_plan(texts[-1])),
}


def _tokens(chars):
    return max(1, math.ceil(chars / 4))


@app.post("/v1/chat/completions")
def chat_completions():
    """Answer a Chat Completions request with a result composed by rules, as JSON text."""
    try:
        body = json.loads(request.get_data())
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise OfflineRequestError("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict)
                                                                 for m in messages):
        raise OfflineRequestError("'messages' must be a non-empty list of message objects.")
    response_format = body.get("response_format")
    schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
    name = schema.get("name") if isinstance(schema, dict) else None
    if not isinstance(name, str) or name not in COMPOSERS:
        raise OfflineRequestError("response_format.json_schema.name must be one of: "
                                  f"{', '.join(COMPOSERS)}.")
    user_texts = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    if not user_texts:
        raise OfflineRequestError("'messages' must contain a user message.")
    content = json.dumps(COMPOSERS[name](user_texts), ensure_ascii=False)
    prompt_tokens = _tokens(sum(len(_text(m.get("content"))) for m in messages))
    completion_tokens = _tokens(len(content))
    return jsonify({
        "id": f"chatcmpl-offline-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": OFFLINE_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def _error(message, status):
    kind = "invalid_request_error" if status < 500 else "server_error"
    error = {"message": message, "type": kind, "param": None, "code": None}
    return jsonify({"error": error}), status


@app.errorhandler(OfflineRequestError)
def bad_request(exc):
    """A request the rules cannot answer, in OpenAI's error shape."""
    return _error(str(exc), 400)


@app.errorhandler(HTTPException)
def http_error(exc):
    """Unknown paths, wrong methods and the like, in OpenAI's error shape."""
    return _error(exc.description, exc.code)


@app.errorhandler(Exception)
def unexpected_error(exc):
    """A bug in the rules: logged with its traceback, answered as JSON, not an HTML page."""
    app.logger.exception("The offline backend failed")
    return _error("The offline backend failed to compose an answer.", 500)
