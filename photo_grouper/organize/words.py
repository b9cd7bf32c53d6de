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
