"""Agent skills and languages: the rules a name, a level and a language tag must follow (no database).

A skill is a lowercase name of 1 to 32 characters out of ``a-z 0-9 _ -`` with a level from 1 (basic) to
10 (expert); an agent has each skill at most once. Languages are a separate list per agent (BCP 47 tags,
the form customers' ``language`` uses, e.g. ``fr`` or ``zh-CN``), not skills: a router matches a
customer's language against them, where a skill is matched against a queue's ``skill``.

On the command line a skill reads ``NAME:LEVEL`` (``sales:7``); level 0 means "remove it".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cti.core.errors import UsageError

MIN_LEVEL = 1
MAX_LEVEL = 10
_NAME = re.compile(r"[a-z0-9_-]{1,32}")
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})((?:-[A-Za-z0-9]{2,8})*)")


class SkillError(UsageError):
    """A skill name, level or language tag that breaks the rules, or an agent that does not exist."""


class UnknownAgent(SkillError):
    def __init__(self, username: str) -> None:
        super().__init__(f"no agent {username!r}")
        self.username = username


def check_name(name: object) -> str:
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise SkillError(f"skill name {name!r}: use 1 to 32 of a-z, 0-9, _ and - (lowercase)")
    return name


def check_level(name: str, level: object) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise SkillError(
            f"skill {name!r}: the level is a whole number {MIN_LEVEL}..{MAX_LEVEL}, not {level!r}"
        )
    return level


def check_skills(skills: Mapping[str, int]) -> dict[str, int]:
    """``skills`` checked, as a new dict sorted by name."""
    return {check_name(name): check_level(name, level) for name, level in sorted(skills.items())}


def parse_skill(text: str) -> tuple[str, int]:
    """``NAME:LEVEL`` (``sales:7``) as (name, level); level 0 is allowed here and means "remove"."""
    name, sep, level = text.partition(":")
    if not sep:
        raise SkillError(f"skill {text!r}: write NAME:LEVEL, e.g. sales:7")
    check_name(name)
    if not level.isdigit():
        raise SkillError(f"skill {text!r}: the level is a whole number 0..{MAX_LEVEL} (0 removes it)")
    value = int(level)
    return name, 0 if value == 0 else check_level(name, value)


def check_language(tag: object) -> str:
    """A BCP 47 tag in its usual case: ``fr``, ``zh-CN``, ``sr-Latn-RS`` (``ZH-cn`` reads ``zh-CN``)."""
    match = _LANGUAGE.fullmatch(tag) if isinstance(tag, str) and len(tag) <= 16 else None
    if match is None:
        raise SkillError(f"language {tag!r}: use a BCP 47 tag such as fr or zh-CN (at most 16 characters)")
    parts = [match.group(1).lower()]
    for sub in match.group(2).split("-")[1:]:
        parts.append(sub.upper() if len(sub) == 2 else sub.title() if len(sub) == 4 else sub.lower())
    return "-".join(parts)


def check_languages(tags: Iterable[str]) -> list[str]:
    """``tags`` checked, without repeats, sorted."""
    return sorted({check_language(tag) for tag in tags})
