"""The group tree: people first, then the automatic groups of the level the zoom shows, each with its finer
sub-groups inside (down to the finest level), so zooming out merges along the learned hierarchy.

Groups can be dragged onto each other (merge) and faces from the grid onto a group (move); the model only
reports the drop, the window asks for confirmation and calls the organize core."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from PySide6.QtCore import QMimeData, QModelIndex, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLineEdit, QStyledItemDelegate

from ..organize.view import GroupInfo, State
from .face_grid import FACES_MIME

REF_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2  # a person's name ("" for unnamed groups): what renaming starts from
TOP_ROLE = Qt.ItemDataRole.UserRole + 3  # True for the groups of the list (not finer groups inside them)
PEAK_ROLE = Qt.ItemDataRole.UserRole + 4  # the group's representative face: its icon
FACE_ROLE = Qt.ItemDataRole.UserRole + 5  # leaves: the face's detection id
FACES_PENDING_ROLE = Qt.ItemDataRole.UserRole + 6  # a finest group's faces, filled in when it is expanded
LEAF_ROLE = Qt.ItemDataRole.UserRole + 7  # rows under a finest group: its faces (or the placeholder for them)
HIDDEN_ROLE = Qt.ItemDataRole.UserRole + 8  # a hidden person (listed only with View > Show hidden groups)
GROUPS_MIME = "application/x-photo-grouper-groups"
COLUMNS = ["Group", "Faces", "Confirmed", "Suggested"]


class GroupTreeModel(QStandardItemModel):
    groups_dropped = Signal(list, str)  # dragged group references, target reference
    faces_dropped = Signal(str, list, str)  # source group, face ids, target reference

    def mimeTypes(self) -> list[str]:
        return [GROUPS_MIME, FACES_MIME]

    def mimeData(self, indexes) -> QMimeData:
        refs = sorted({i.data(REF_ROLE) for i in indexes if i.isValid() and i.data(TOP_ROLE)})
        data = QMimeData()
        data.setData(GROUPS_MIME, json.dumps(refs).encode())
        return data

    def supportedDropActions(self):
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        # Only onto a listed group (not between rows: the order is the model's own).
        return parent.isValid() and bool(parent.data(TOP_ROLE)) and \
            (data.hasFormat(GROUPS_MIME) or data.hasFormat(FACES_MIME))

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        target = parent.siblingAtColumn(0).data(REF_ROLE)
        if data.hasFormat(GROUPS_MIME):
            refs = [r for r in json.loads(bytes(data.data(GROUPS_MIME)).decode()) if r != target]
            if refs:
                self.groups_dropped.emit(refs, target)
        else:
            payload = json.loads(bytes(data.data(FACES_MIME)).decode())
            if payload["from"] != target:
                self.faces_dropped.emit(payload["from"] or "", payload["faces"], target)
        return False  # nothing is inserted here: the window refreshes the tree after the change


def _row(title: str, ref: str, size: int, confirmed: int = 0, suggested: int = 0, *, name: str | None = None,
         top: bool = False, peak: int | None = None) -> list[QStandardItem]:
    cells = [QStandardItem(title), QStandardItem(str(size)), QStandardItem(str(confirmed)),
             QStandardItem(str(suggested))]
    for cell in cells:
        cell.setEditable(False)
        cell.setDropEnabled(top)
        cell.setDragEnabled(top)
        cell.setData(ref, REF_ROLE)
        cell.setData(top, TOP_ROLE)
    cells[0].setEditable(top)
    cells[0].setData(name or "", NAME_ROLE)
    cells[0].setData(peak, PEAK_ROLE)
    return cells


def _leaf(parent: QStandardItem, text: str, roles: dict | None = None) -> QStandardItem:
    """A row under a finest group (a face, or the placeholder for them): read-only, neither dragged nor a drop
    target, and referring to its group."""
    leaf = QStandardItem(text)
    leaf.setEditable(False)
    leaf.setDropEnabled(False)
    leaf.setDragEnabled(False)
    leaf.setData(parent.data(REF_ROLE), REF_ROLE)
    leaf.setData(False, TOP_ROLE)
    leaf.setData(True, LEAF_ROLE)
    for role, value in (roles or {}).items():
        leaf.setData(value, role)
    parent.appendRow(leaf)
    return leaf


def _faces_placeholder(item: QStandardItem) -> None:
    """A finest group gets its faces as leaves only when opened: thousands of rows up front would not do."""
    _leaf(item, "faces…", {FACES_PENDING_ROLE: True})


def fill_faces(item: QStandardItem, members, limit: int = 500) -> None:
    """Replace the placeholder under ``item`` by its faces (the first ``limit``; the grid shows them all)."""
    item.removeRows(0, item.rowCount())
    for m in members[:limit]:
        _leaf(item, Path(m.photo).name, {FACE_ROLE: m.detection_id}).setToolTip(f"{m.photo} ({m.status})")
    if len(members) > limit:
        _leaf(item, f"… and {len(members) - limit} more in the grid")


def build_model(state: State, groups: list[GroupInfo], model: QStandardItemModel | None = None
                ) -> QStandardItemModel:
    model = model if model is not None else GroupTreeModel()
    model.clear()
    model.setHorizontalHeaderLabels(COLUMNS)
    # How many unowned faces each automatic group of every level holds, to show the finer levels inside.
    sizes: Counter = Counter()
    for d in state.auto:
        c = state.level0[d]
        while True:
            sizes[c] += 1
            parent = state.clusters[c][1]
            if parent is None or state.clusters[c][0] >= state.level:
                break
            c = parent
    children = defaultdict(list)
    for cid, (lvl, parent, _) in state.clusters.items():
        if parent is not None and sizes[cid] and lvl < state.level:
            children[parent].append(cid)

    def add_children(item: QStandardItem, cid: int) -> None:
        for child in sorted(children[cid], key=lambda c: (-sizes[c], c)):
            row = _row(f"g{child} (level {state.clusters[child][0]})", f"g{child}", sizes[child],
                       peak=state.clusters[child][2])
            item.appendRow(row)
            add_children(row[0], child)
        if not children[cid]:
            _faces_placeholder(item)

    for g in groups:
        row = _row(g.title + (" (hidden)" if g.hidden else ""), g.ref, g.size, g.confirmed, g.suggested,
                   name=g.name, top=True, peak=g.peak_detection_id)
        model.appendRow(row)
        row[0].setData(g.hidden, HIDDEN_ROLE)
        if g.kind == "auto":
            add_children(row[0], g.id)
        else:
            _faces_placeholder(row[0])
    return model


def items(model: QStandardItemModel):
    """Every first-column item, depth first."""
    stack = [model.item(r, 0) for r in reversed(range(model.rowCount()))]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(item.child(r, 0) for r in reversed(range(item.rowCount())))


class RenameDelegate(QStyledItemDelegate):
    """Editing a group's name (F2 or double-click) starts from its name, not its title, and reports the new
    name instead of writing it into the model."""

    renamed = Signal(str, str)  # reference, new name

    def setEditorData(self, editor: QLineEdit, index: QModelIndex) -> None:
        # The view calls this again whenever the row changes (its icon arriving, say): only the first call may
        # fill the editor, or what the user is typing would be wiped.
        if editor.property("filled"):
            return
        editor.setProperty("filled", True)
        editor.setText(index.data(NAME_ROLE) or "")
        editor.setPlaceholderText("name this person")

    def setModelData(self, editor: QLineEdit, model, index: QModelIndex) -> None:
        name = " ".join(editor.text().split())
        if name and name != (index.data(NAME_ROLE) or ""):
            self.renamed.emit(index.data(REF_ROLE), name)
