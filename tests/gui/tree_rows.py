"""A tree's rows as plain values, to compare a kept tree with one built anew."""

from PySide6.QtCore import Qt

from photo_grouper.gui.group_tree import (FACE_ROLE, FACES_PENDING_ROLE, GROUPS_PENDING_ROLE, HIDDEN_ROLE, LEAF_ROLE,
                                          NAME_ROLE, PEAK_ROLE, REF_ROLE, TOP_ROLE)

ROLES = [Qt.ItemDataRole.DisplayRole, REF_ROLE, NAME_ROLE, PEAK_ROLE, HIDDEN_ROLE, TOP_ROLE, LEAF_ROLE, FACE_ROLE,
         FACES_PENDING_ROLE, GROUPS_PENDING_ROLE]


def rows(model, parent, depth=2):
    """Each row's cells' roles and flags, with the rows below it (``depth`` levels down)."""
    cells = [[model.index(r, c, parent) for c in range(model.columnCount(parent))]
             for r in range(model.rowCount(parent))]
    return [([i.data(role) for i in row for role in ROLES], [model.flags(i) for i in row],
             rows(model, row[0], depth - 1) if depth else None) for row in cells]
