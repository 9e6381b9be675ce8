"""A seeded synthetic non-reasoning SFT set for the demo (DeepSeek-R1 step 4).

R1 mixes about 200k non-reasoning examples (writing, QA, translation) into its final SFT
set so the model keeps its general skills. The demo's stand-in is a few hundred short
prompt -> response pairs that a ~1M-parameter model can learn: greetings, repeating a
word, opposites, number words, one-word translations, capitals, spelling and plurals.

Two kinds of family, two split rules:

* rule families (greet, repeat, capitals, spell, plural) follow a pattern the model can
  apply to a word it never saw with that instruction, so a stable hash of the item sends
  about a fifth of them to ``test`` (as ``synthetic.split_of`` does for the reasoning
  tasks): the test split measures generalisation, not recall;
* fact families (opposites, number words, translations) can only be memorised, so all
  of them are ``train``.

The seed picks each item's phrasing among a few variants and the order; the same seed
always gives the same examples. Records are SFT records: ``completion`` is the
response, ``answer`` is empty, ``task`` is ``"general"``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Any

Example = dict[str, Any]

TASK = "general"
TEST_SHARE_PERCENT = 20

NAMES = ("Ann", "Bob", "Cara", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivy", "Jon", "Kim",
         "Leo", "Mia", "Ned", "Ola", "Pia", "Raj", "Sam", "Tom", "Uma")
# word -> (plural, French)
WORDS = {
    "cat": ("cats", "chat"), "dog": ("dogs", "chien"), "sun": ("suns", "soleil"),
    "tree": ("trees", "arbre"), "book": ("books", "livre"), "bird": ("birds", "oiseau"),
    "fish": ("fish", "poisson"), "milk": ("milks", "lait"), "rain": ("rains", "pluie"),
    "star": ("stars", "étoile"), "ship": ("ships", "bateau"), "lamp": ("lamps", "lampe"),
    "rock": ("rocks", "pierre"), "door": ("doors", "porte"), "cake": ("cakes", "gâteau"),
    "hat": ("hats", "chapeau"), "cup": ("cups", "tasse"), "box": ("boxes", "boîte"),
    "pen": ("pens", "stylo"), "map": ("maps", "carte"), "bus": ("buses", "bus"),
    "mouse": ("mice", "souris"), "child": ("children", "enfant"), "foot": ("feet", "pied"),
}
OPPOSITES = (
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"),
    ("old", "young"), ("open", "closed"), ("happy", "sad"), ("early", "late"),
    ("light", "dark"), ("full", "empty"), ("left", "right"), ("in", "out"),
    ("wet", "dry"), ("hard", "soft"), ("high", "low"), ("yes", "no"), ("first", "last"),
)
UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

# family -> phrasings of its prompt; the seed picks one per item
PHRASINGS: dict[str, tuple[str, ...]] = {
    "greet": ("Say hello to {x}.", "Greet {x}."),
    "farewell": ("Say goodbye to {x}.", "Wish {x} goodbye."),
    "repeat": ("Repeat the word {x}.", "Say the word {x}."),
    "repeat-twice": ("Repeat the word {x} twice.", "Say {x} two times."),
    "capitals": ("Write {x} in capital letters.", "Write {x} in upper case."),
    "spell": ("Spell the word {x}.", "Spell {x} letter by letter."),
    "plural": ("What is the plural of {x}?", "Give the plural of {x}."),
    "opposite": ("What is the opposite of {x}?", "Name the opposite of {x}."),
    "number-word": ("Write {x} in words.", "How do you write {x} in words?"),
    "word-number": ("Write {x} as a number.", "What number is {x}?"),
    "french": ("Translate {x} into French.", "What is {x} in French?"),
}
RULE_FAMILIES = frozenset({"greet", "farewell", "repeat", "repeat-twice", "capitals", "spell",
                           "plural"})


def number_word(n: int) -> str:
    """English words for 0 <= n < 100 ("forty-two")."""
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    return TENS[tens] + (f"-{UNITS[unit]}" if unit else "")


def _items() -> Iterator[tuple[str, str, str]]:
    """Every (family, subject, response) the set is made of, in a fixed order."""
    for name in NAMES:
        yield "greet", name, f"Hello, {name}!"
        yield "farewell", name, f"Goodbye, {name}!"
    for word, (plural, french) in WORDS.items():
        yield "repeat", word, word
        yield "repeat-twice", word, f"{word} {word}"
        yield "capitals", word, word.upper()
        yield "spell", word, " ".join(word)
        yield "plural", word, f"The plural of {word} is {plural}."
        yield "french", word, f"In French, {word} is {french}."
    for a, b in OPPOSITES:
        yield "opposite", a, f"The opposite of {a} is {b}."
        yield "opposite", b, f"The opposite of {b} is {a}."
    for n in (*range(21), *range(25, 100, 5)):
        yield "number-word", str(n), number_word(n)
        yield "word-number", number_word(n), str(n)


def split_of(family: str, subject: str) -> str:
    if family not in RULE_FAMILIES:
        return "train"
    bucket = int.from_bytes(hashlib.sha256(f"{family}:{subject}".encode()).digest()[:4], "big")
    return "test" if bucket % 100 < TEST_SHARE_PERCENT else "train"


def general_examples(seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, test) non-reasoning SFT records, shuffled by ``seed``."""
    rng = random.Random(seed)
    records = []
    for family, subject, response in _items():
        records.append({
            "key": f"general:{family}:{subject}",
            "prompt": rng.choice(PHRASINGS[family]).format(x=subject),
            "answer": "",
            "completion": response,
            "task": TASK,
            "split": split_of(family, subject),
            "provenance": {"generator": "general", "family": family, "seed": seed},
        })
    rng.shuffle(records)
    train = [r for r in records if r["split"] == "train"]
    return train, [r for r in records if r["split"] == "test"]
