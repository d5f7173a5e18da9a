"""Reading a free-text workout request: its length, focus, level, equipment and restrictions."""

import re
from dataclasses import dataclass
from typing import NamedTuple

from webapp.llm.offline.exercise_library import EQUIPMENT

MIN_MINUTES, MAX_MINUTES = 10, 300
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
# key: (words that name it, as a title says it, as a description says it)
KIT = {"dumbbells": (r"dumbbells?|dbs?", "Dumbbells", "a pair of dumbbells"),
       "kettlebell": (r"kettlebells?|kbs?", "a Kettlebell", "a kettlebell"),
       "barbell": (r"barbells?", "a Barbell", "a barbell"),
       "band": (r"(?:resistance )?bands?", "a Band", "a resistance band"),
       "pull_up_bar": (r"pull[- ]?up bar|chin[- ]?up bar", "a Pull-Up Bar", "a pull-up bar")}
# A body part named as a complaint ("bad knees", "back pain") is not a request to train it.
_COMPLAINT = re.compile(r"\b(?:bad|sore|injured|hurt|painful|weak)\s+\w+"
                        r"|\b\w+\s+(?:pain|injur\w*|issues?|problems?)\b")
_NO_JUMPING = re.compile(r"no[- ]?jump\w*|without jump\w*|(?:don'?t|can'?t|cannot) jump"
                         r"|no plyo\w*|low[- ]impact|quiet|apartment|downstairs|neighbou?rs?"
                         r"|knees?\b|joints?\b|pregnan\w*")
_NUMBER_WORDS = {"five": 5, "ten": 10, "fifteen": 15, "twenty": 20, "twenty-five": 25, "thirty": 30,
                 "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "one": 1,
                 "two": 2}
# A number in digits or words, as a regex group; the longest words first so "forty-five" wins.
NUMBER = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_HOURS, _MINUTES = r"\s*-?\s*(?:h|hrs?|hours?)\b", r"\s*-?\s*(?:m|mins?|minutes?)\b"


def whole_words(pattern):
    """A regex that matches the pattern's alternatives only as whole words."""
    return re.compile(rf"\b(?:{pattern})\b")


def _number(word):
    return float(word) if word[0].isdigit() else _NUMBER_WORDS[word]


def session_minutes(minutes):
    """A session length held within the range the rules compose for."""
    return max(MIN_MINUTES, min(MAX_MINUTES, minutes))


def parse_minutes(text):
    """The session length a text asks for, in minutes, or None when it names none."""
    text = text.lower()
    if re.search(r"\b(?:an?|one) hour and a half\b|\bhour and a half\b", text):
        return 90
    if re.search(r"\bhalf an? hour\b|\bhalf-hour\b", text):
        return 30
    if match := re.search(rf"\b{NUMBER}{_HOURS}(?:\s*(?:and\s*)?(a half|{NUMBER}{_MINUTES}))?",
                          text):
        extra = 30 if match[2] == "a half" else _number(match[3]) if match[3] else 0
        return round(_number(match[1]) * 60 + extra)
    if match := re.search(rf"\b(?:an?|one) hour\b(?:\s*and\s*{NUMBER}{_MINUTES})?", text):
        return 60 + (round(_number(match[1])) if match[1] else 0)
    if match := re.search(rf"\b{NUMBER}{_MINUTES}", text):
        return round(_number(match[1]))
    return None


def parse_focus(text):
    """The focus keys a text asks for, in the order it names them."""
    text = _COMPLAINT.sub(" ", text.lower())
    found = [(m.start(), key) for key, focus in FOCUSES.items()
             if (m := whole_words(focus.words).search(text))]
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
    if whole_words(r"gym|fully equipped|all equipment|any equipment").search(text):
        return frozenset(EQUIPMENT), GYM_KIT
    named = frozenset(key for key, (words, _, _) in KIT.items() if whole_words(words).search(text))
    return named | {"none"}, named


def asks_low_impact(text):
    """Whether a text rules out jumping: said outright, or implied by joints or neighbours."""
    return bool(_NO_JUMPING.search(text.lower()))


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
        return cls(minutes=session_minutes(parse_minutes(prompt) or 30),
                   focus=parse_focus(prompt) or ("full_body",), level=parse_level(prompt),
                   available=available, preferred=preferred,
                   low_impact=asks_low_impact(prompt))
