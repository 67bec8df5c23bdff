"""Words as the search and the QA rules compare them: lower case, ё as е, stemmed (Snowball,
the same family of stemmers as PostgreSQL's full-text configurations), so "девушка",
"девушки" and "девушкой" are one word, and "ваша вина" is found in "это ваша вина". Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import snowballstemmer

LANGUAGES = {"ru": "russian", "en": "english"}
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True, slots=True)
class Word:
    """A word heard: its text and when (seconds from the start of the recording)."""

    text: str
    start: float
    end: float


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(LANGUAGES.get(language, "english"))


def tokens(text: str) -> list[str]:
    """The words of a text, normalised (lower case, ё → е)."""
    return [t.replace("ё", "е") for t in _WORD.findall(text.lower())]


@lru_cache(maxsize=65536)
def stem(token: str, language: str) -> str:
    """Cached: a search stems every word of each hit's transcript, and talk repeats itself."""
    return _stemmer(language).stemWord(token)


def stems(text: str, language: str) -> list[str]:
    return [stem(t, language) for t in tokens(text)]


@dataclass(frozen=True, slots=True)
class Match:
    start: float
    end: float
    said: str  # the words as heard


def find_phrase(phrase: str, words: Sequence[Word], language: str) -> list[Match]:
    """Every place the phrase's words were said one after another, in any of their forms."""
    wanted = stems(phrase, language)
    if not wanted:
        return []
    # a word as heard may hold more than one token ("it's"); each token keeps its word's time
    heard: list[tuple[str, Word]] = [(stem(t, language), w) for w in words for t in tokens(w.text)]
    found = []
    n = len(wanted)
    i = 0
    while i + n <= len(heard):
        if all(heard[i + k][0] == wanted[k] for k in range(n)):
            first, last = heard[i][1], heard[i + n - 1][1]
            said = " ".join(dict.fromkeys(w.text for _s, w in heard[i:i + n]))
            found.append(Match(first.start, last.end, said))
            i += n
        else:
            i += 1
    return found


def first_mention(query_stems: set[str], words: Sequence[Word], language: str) -> Word | None:
    """The first word said whose stem is one of the query's: where a player should jump."""
    # Snowball only rewrites a word's ending: a word not holding a stem's first letters
    # cannot have it (a search reads 50 transcripts: most words are skipped by this)
    heads = tuple({s[:4] for s in query_stems if s})
    for word in words:
        lowered = word.text.lower().replace("ё", "е")
        if not any(head in lowered for head in heads):
            continue
        if any(stem(t, language) in query_stems for t in tokens(word.text)):
            return word
    return None
