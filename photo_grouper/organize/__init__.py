"""What users do with groups: name, merge, split, reject, hide, ignore, undo/redo; suggestions that follow
re-clustering without ever changing a confirmed face; album export. No Qt."""

from .history import Change, OrganizeError
from .operations import Organizer
from .reconcile import suggest, suggest_in
from .view import GroupInfo, Member

__all__ = ["Change", "GroupInfo", "Member", "OrganizeError", "Organizer", "suggest", "suggest_in"]
