"""Revising a workout from free-text feedback, one rule per kind of change asked for."""

import re

from webapp.llm.offline.exercise_library import ALL_LEVELS, EXERCISES
from webapp.llm.offline.parsing import (FOCUSES, MAX_MINUTES, MIN_MINUTES, NUMBER,
                                        asks_low_impact, parse_focus, parse_minutes,
                                        session_minutes)
from webapp.llm.offline.workout import (COOL_DOWN, TIPS, candidates, fit, library_move,
                                        main_block, phase_label, plan_sentence, prescribe,
                                        round_to_5, suits)

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
_ABSOLUTE = re.compile(rf"\bto\s+(?:an?\b|half\b|{NUMBER})")
_JUMPY_NAME = re.compile(r"jump|hop\b|burpee|plyo|bound|skip|jacks|high knees|tuck")
# "no lunges", "without burpees", "I hate planks": the word after names moves to take out.
_UNWANTED = re.compile(r"\b(?:no|without|skip|remove|drop|replace|hate|dislike|instead of)"
                       r"\s+(?:the\s+|any\s+|more\s+)?([a-z][a-z-]{2,})")
_NOT_A_MOVE = {"jumping", "jumps", "impact", "rest", "breaks", "break", "equipment", "time",
               "weights", "gym", "more", "less", "longer", "shorter", "warm-up", "cool-down"}


def _stem(word):
    """"lunges" -> "lunge", "squats" -> "squat", "push-ups" -> "push-up"."""
    return word[:-1] if word.endswith("s") and len(word) > 4 else word


def _is_jumping(item):
    ex = library_move(item)
    return ex.jumping if ex else bool(_JUMPY_NAME.search(item["name"].lower()))


def _tags(item):
    ex = library_move(item)
    return set(ex.focus) if ex else {"cardio", "legs"} if _is_jumping(item) else {"full_body"}


class Revision:
    """A workout being revised; each step applies one kind of feedback and says what it did."""

    def __init__(self, workout):
        self.workout, self.items = workout, [dict(item) for item in workout["exercises"]]
        self.minutes, self.level = workout["duration_minutes"], workout["difficulty"]
        known = [ex for ex in map(library_move, self.items) if ex]
        # New moves use only the kit the workout already needs, and jump only if it already did.
        self.available = frozenset({"none"} | {ex.equipment for ex in known})
        self.low_impact = not any(map(_is_jumping, self.items))
        self.keep, self.shrink, self.grow = (lambda item: False), True, True

    def main(self):
        """The exercises of the main block."""
        return main_block(self.items)

    def swap(self, item, note, avoid=()):
        """Replace one exercise by the closest fitting low-impact library move whose name
        contains none of `avoid`; the new move's name, or None."""
        present, tags = {i["name"].lower() for i in self.items}, _tags(item)
        fitting = [ex for ex in EXERCISES if ex.phase == "main"
                   and suits(ex, self.level, self.available, low_impact=True)
                   and ex.name.lower() not in present and tags & set(ex.focus)
                   and not any(word in ex.name.lower() for word in avoid)]
        if not fitting:
            return None
        ex = max(fitting, key=lambda ex: len(tags & set(ex.focus)))  # the first of equals wins
        new = prescribe(ex, self.level, phase_label(item))
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
                seconds = round_to_5(item["duration_seconds"] * scale)
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
        self.minutes = session_minutes(wanted)
        self.shrink, self.grow = self.minutes <= old, self.minutes >= old
        if self.minutes < old and len(self.main()) > 1:
            self.items.remove(self.main()[-1])
        if self.minutes == old:
            limit = ", the limit I work with" if old in (MIN_MINUTES, MAX_MINUTES) else ""
            return f"kept it at {old} minutes{limit}"
        return f"changed the length from {old} to {self.minutes} minutes"

    def avoid_jumping(self, text, asked):
        """"No jumping", "low impact", "knees": swap each jumping move for a low-impact one."""
        if not asks_low_impact(text):
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

    def drop_named(self, text, asked):
        """"No lunges", "without burpees": swap out each move so named (or drop it)."""
        words = {_stem(m.group(1)) for m in _UNWANTED.finditer(text)} - _NOT_A_MOVE
        named = [item for item in self.items
                 if any(word in item["name"].lower() for word in words)]
        if not named:
            return None
        swaps, dropped = [], []
        for item in named:
            if new_name := self.swap(item, "Swapped in for", avoid=words):
                swaps.append(f"{item['name']} for {new_name}")
            elif len(self.items) > 1:
                self.items.remove(item)
                dropped.append(item["name"])
        done = [f"swapped {', '.join(swaps)}"] if swaps else []
        done += [f"took out {', '.join(dropped)}"] if dropped else []
        return " and ".join(done) + " as you asked"

    def add_focus(self, text, asked):
        """"More legs", "add core": two moves of that focus; others make room if time is short."""
        focus = parse_focus(text) if "more_focus" in asked else ()
        if not focus:
            return None
        pool = candidates(focus, self.level, self.available, self.available - {"none"},
                          self.low_impact, [item["name"] for item in self.items])
        fresh = [prescribe(ex, self.level) for ex in list(pool)[:2]]
        at = next((i for i, item in enumerate(self.items) if phase_label(item) == COOL_DOWN),
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
            self.level = ALL_LEVELS[max(0, ALL_LEVELS.index(self.level) - 1)]
            self.redose(0.8, 15)
            for item in [i for i in self.items
                         if (ex := library_move(i)) and self.level not in ex.levels]:
                if not self.swap(item, "Simpler swap for") and len(self.main()) > 1:
                    self.items.remove(item)
            return f"made it easier ({self.level} level): fewer reps, longer rests, simpler moves"
        if "harder" in asked:
            self.level = ALL_LEVELS[min(2, ALL_LEVELS.index(self.level) + 1)]
            self.redose(1.2, -15)
            return f"made it harder ({self.level} level): more reps, shorter rests, more work"
        return None

    def change_rest(self, text, asked):
        """"Less rest" or "more rest" between sets; the time saved or spent changes the sets."""
        if "less_rest" in asked:
            for item in self.main():
                item["rest_seconds"] = max(10, round_to_5(item["rest_seconds"] * 0.6))
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
                      lambda _: plan_sentence(self.items), base)
        for tip in (TIPS[name] for name in ALL_LEVELS):
            base = base.replace(tip, TIPS[self.level])
        title = re.sub(r"\b\d+-Minute\b", f"{self.minutes}-Minute", self.workout["title"])
        title = re.sub(r"\b(?:Beginner|Intermediate|Advanced)\b", self.level.title(), title)
        return {"title": title, "description": f"{note}\n\n{base}"[:4000],
                "duration_minutes": self.minutes, "difficulty": self.level,
                "exercises": self.items[:50]}


_REVISION_STEPS = (Revision.change_length, Revision.avoid_jumping, Revision.drop_named,
                   Revision.add_focus, Revision.change_level, Revision.change_rest)


def revise_workout(workout, feedback):
    """The workout changed as feedback asks; unknown feedback gets a light variation and a note."""
    revision, text = Revision(workout), feedback.lower()
    asked = {name for name, pattern in _FEEDBACK.items() if pattern.search(text)}
    changes = [change for step in _REVISION_STEPS if (change := step(revision, text, asked))]
    if not changes:
        return revision.result(revision.vary())
    fit(revision.items, revision.minutes * 60, revision.keep, revision.shrink, revision.grow)
    return revision.result("What changed: I " + "; ".join(changes) + ".")
