"""What a group holds and what a named group is, in each mode's words: faces of people, or (species mode) whole
photos of animals. The organize core, the command line and the window say them from this one table."""

from typing import NamedTuple


class Words(NamedTuple):
    one: str  # an item of a group
    many: str
    who: str  # what a named group is
    whom: str  # named groups, more than one


WORDS = {"faces": Words("face", "faces", "person", "people"),
         "species": Words("photo", "photos", "species", "species")}


def suggestions_said(mode: str, suggested: int, new: int) -> str:
    """What a grouping suggested, for an index summary: the new suggestions, and those still waiting from before
    (every grouping makes them all again; only the new ones are news)."""
    w = WORDS[mode]
    if not new:
        return f"{suggested} {w.one}(s) suggested to your {w.whom} still wait for a yes or a no"
    waiting = f", {suggested} waiting in all" if suggested > new else ""
    return f"{new} new {w.one}(s) suggested to your {w.whom}{waiting}"


def why_empty_said(mode: str, reason: str, count: int, index: str) -> str:
    """Why a mode lists no group (``Organizer.why_empty``), ``index`` saying how to index a folder where the
    user's interface says it (a command, a menu)."""
    w = WORDS[mode]
    if reason == "no photos":
        return f"no groups yet: {index}"
    if reason == "not indexed":
        return f"no {mode} groups yet: the library's {count} photo(s) were not indexed in {mode} mode: {index}"
    if reason == "none found":
        return f"no groups: no {w.many} were found in the {count} photo(s) indexed in {mode} mode"
    if reason == "not grouped":
        return (f"no groups yet: {count} {w.one}(s) found but not grouped (the last index stopped before "
                f"grouping them): {index} again")
    return f"no groups: all {count} {w.many} are set aside (ignored, turned down, or in hidden groups)"


def level_said(level: int, default: int) -> str:
    """Where a hierarchy level sits against the default one (where the grouping stopped), for a listing's heading;
    the levels above the default join groups the model kept apart (zoom-out levels)."""
    if level == default:
        return "where the grouping stopped"
    if level < default:
        return f"finer than where the grouping stopped, level {default}"
    steps = level - default
    return (f"zoomed out {steps} step{'s' * (steps != 1)} past where the grouping stopped, level {default}: "
            "groups it kept apart, joined where most likely one")
