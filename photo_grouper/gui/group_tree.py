"""The group tree: people first, then the automatic groups of the level the zoom shows, each with its finer
sub-groups inside (down to the finest level), so zooming out merges along the learned hierarchy.

Groups can be dragged onto each other (merge) and faces from the grid onto a group (move); the model only
reports the drop, the window asks for confirmation and calls the organize core."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QMimeData, QModelIndex, QPointF, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLineEdit, QStyledItemDelegate
from shiboken6 import Shiboken

from ..organize.view import GroupInfo, State
from .face_grid import FACES_MIME

REF_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2  # a person's name ("" for unnamed groups): what renaming starts from
TOP_ROLE = Qt.ItemDataRole.UserRole + 3  # True for the groups of the list (not finer groups inside them)
PEAK_ROLE = Qt.ItemDataRole.UserRole + 4  # the group's representative face: its icon
FACE_ROLE = Qt.ItemDataRole.UserRole + 5  # leaves: the face's detection id
FACES_PENDING_ROLE = Qt.ItemDataRole.UserRole + 6  # on a group's row: its faces, made when it is opened
LEAF_ROLE = Qt.ItemDataRole.UserRole + 7  # faces under a finest group, and lines of text below a group
HIDDEN_ROLE = Qt.ItemDataRole.UserRole + 8  # a hidden person (listed only with View > Show hidden groups)
GROUPS_PENDING_ROLE = Qt.ItemDataRole.UserRole + 9  # on a group's row: its finer groups, made when opened (its id)
GROUPS_MIME = "application/x-photo-grouper-groups"
COLUMNS = ["Group", "Faces", "Confirmed", "Suggested"]  # in species mode the second is "Photos" (``items``)


class GroupTreeModel(QStandardItemModel):
    groups_dropped = Signal(list, str)  # dragged group references, target reference
    faces_dropped = Signal(str, list, str)  # source group, face ids, target reference
    # A row with a face to show (a group's representative, a face at the leaves) was asked for its icon and has
    # none yet: the window makes thumbnails only for rows the view asks for, not for thousands it never shows.
    icon_wanted = Signal(QModelIndex)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.blank_icon = QIcon()  # what such a row shows until its thumbnail is there (sized like one)
        self.finer: _Finer | None = None
        self.keys: list[RowKey] = []  # what each listed row shows (``build_model``)
        self.items = "faces"  # what a group holds, as the header says it ("photos": species)

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:
        """A group not opened yet holds what it will show when it is (its finer groups or faces, made then: see
        ``pending``), so the view offers to open it."""
        if parent.isValid() and parent.column() == 0 and (
                QStandardItemModel.data(self, parent, GROUPS_PENDING_ROLE) is not None
                or QStandardItemModel.data(self, parent, FACES_PENDING_ROLE)):
            return True
        return super().hasChildren(parent)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        value = super().data(index, role)
        if role == Qt.ItemDataRole.DecorationRole and value is None and index.column() == 0 and \
                icon_face(index) is not None:
            self.icon_wanted.emit(index)
            return self.blank_icon
        return value

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


def square_icon(pixmap: QPixmap) -> QIcon:
    """A row's thumbnail centred on a square: a wide photo's icon is as wide as a face's, so names line up."""
    w, h = pixmap.width(), pixmap.height()
    if w == h:
        return QIcon(pixmap)
    side = max(w, h)
    canvas = QPixmap(side, side)
    canvas.setDevicePixelRatio(pixmap.devicePixelRatio())
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    ratio = pixmap.devicePixelRatio()  # the painter places it in logical pixels
    painter.drawPixmap(QPointF((side - w) / 2 / ratio, (side - h) / 2 / ratio), pixmap)
    painter.end()
    return QIcon(canvas)


# Rows are made through the model (``insertRows``, ``setItemData``), never as QStandardItem objects in Python: a
# million faces list tens of thousands of groups, and an item made in Python keeps a wrapper for as long as it
# lives (made 0.7 s for 35,000 rows against 0.4 s, and every wrapper is walked by the garbage collector and had to
# be let go by hand when its row went: see ``_drop_rows``).
DISPLAY, TOOLTIP = int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ToolTipRole)
# Each cell's flags are stored with it, where QStandardItem keeps them (``setFlags`` writes this role): the view asks
# every row for them each time it lays the tree out, and a Python ``flags`` took a third of a second at 140,000 rows.
# A listed group is dragged and dropped on, and its name edited; anything else is only chosen.
FLAGS = int(Qt.ItemDataRole.UserRole) - 1
_F = Qt.ItemFlag
_PLAIN = int((_F.ItemIsSelectable | _F.ItemIsEnabled).value)
_LEAF = _PLAIN | int(_F.ItemNeverHasChildren.value)  # a face, or a line of text: not asked whether it holds rows
_LISTED = _PLAIN | int((_F.ItemIsDragEnabled | _F.ItemIsDropEnabled).value)
_NAMED = _LISTED | int(_F.ItemIsEditable.value)


def _group_cells(title: str, ref: str, size: int, confirmed: int = 0, suggested: int = 0, *,
                 name: str | None = None, top: bool = False, peak: int | None = None, hidden: bool = False,
                 pending: dict | None = None) -> list:
    """The roles of a group row's four cells (``pending``: what it holds, ``_pending``)."""
    flags = _LISTED if top else _PLAIN
    first = {DISPLAY: title, REF_ROLE: ref, TOP_ROLE: top, NAME_ROLE: name or "", HIDDEN_ROLE: hidden,
             FLAGS: _NAMED if top else _PLAIN, **(pending or {})}
    if peak is not None:
        first[PEAK_ROLE] = peak
    return [first, {DISPLAY: str(size), REF_ROLE: ref, TOP_ROLE: top, FLAGS: flags},
            {DISPLAY: str(confirmed), REF_ROLE: ref, TOP_ROLE: top, FLAGS: flags},
            {DISPLAY: str(suggested), REF_ROLE: ref, TOP_ROLE: top, FLAGS: flags}]


def _leaf_cells(ref: str, text: str, roles: dict | None = None) -> list:
    """A row under group ``ref`` made when it is opened (a face, or a line of text): read-only, neither dragged
    nor a drop target, and referring to its group."""
    return [{DISPLAY: text, REF_ROLE: ref, LEAF_ROLE: True, TOP_ROLE: False, FLAGS: _LEAF, **(roles or {})}]


def _insert(model: QStandardItemModel, parent: QModelIndex, at: int, rows: list[list[dict]]) -> None:
    """``rows`` (each a list of cells' roles) inserted under ``parent`` from row ``at``, in one insertion."""
    if not rows:
        return
    columns = max(len(cells) for cells in rows)
    if model.columnCount(parent) < columns:
        model.insertColumns(model.columnCount(parent), columns - model.columnCount(parent), parent)
    # A row of fewer cells than its table's columns gets the rest with its first cell's flags: a cell never set
    # would have QStandardItemModel's default ones (editable, a drop target).
    columns = model.columnCount(parent)
    model.insertRows(at, len(rows), parent)
    index, set_roles = model.index, model.setItemData
    for r, cells in enumerate(rows, at):
        for c, roles in enumerate(cells):
            set_roles(index(r, c, parent), roles)
        for c in range(len(cells), columns):
            set_roles(index(r, c, parent), {FLAGS: cells[0][FLAGS]})


def _drop_rows(item: QStandardItem, rows: range | None = None) -> None:
    """``item``'s rows (``rows`` of them, if given) removed, and the Python wrappers still held of what they held
    invalidated: PySide keeps the wrapper of an item removeRows deletes as valid, and may later hand it out for a
    new object at the same address (a QStandardItem where a QAction was: an AttributeError in a later window).
    Every valid QStandardItem wrapper is of a live item as long as each removal goes through here and each model
    is let go of (``let_go``) before it is deleted: this asks them where they are."""
    rows = rows if rows is not None else range(item.rowCount())
    if not len(rows):
        return
    model, parent = item.model(), item.index()
    held = [w for w in _held(model) if _under(w.index(), parent, rows)]
    item.removeRows(rows.start, len(rows))
    for wrapper in held:
        Shiboken.invalidate(wrapper)


def let_go(model: QStandardItemModel) -> None:
    """The wrappers still held of ``model``'s items invalidated, before the model (a window's) is deleted."""
    for wrapper in _held(model):
        Shiboken.invalidate(wrapper)


def _held(model: QStandardItemModel) -> list[QStandardItem]:
    """The valid Python wrappers of ``model``'s items (few: the tree's rows are made in C++, see ``_insert``)."""
    return [w for w in Shiboken.getAllValidWrappers() if isinstance(w, QStandardItem) and w.model() is model]


def _under(index: QModelIndex, parent: QModelIndex, rows: range) -> bool:
    """Whether ``index`` is in ``rows`` of ``parent`` or below them."""
    while index.isValid():
        up = index.parent()
        if up == parent:
            return index.row() in rows
        index = up
    return False


def _pending(finer: _Finer, what: tuple[str, int], size: int = 1) -> dict:
    """The role on a group's row saying what it holds, made when it is opened (nothing is made before: thousands
    of rows up front would not do): an automatic group above the finest level, its finer groups; any other
    (``what``: (kind, id)), its faces; none where it holds none (a named person whose faces all went elsewhere:
    nothing to open)."""
    kind, gid = what
    if not size:
        return {}
    if kind == "auto" and finer.state.clusters[gid][0] > 0:
        return {GROUPS_PENDING_ROLE: gid}
    return {FACES_PENDING_ROLE: True}


def _set_pending(item: QStandardItem, roles: dict | None) -> None:
    """``item``'s pending role set to ``roles`` (None: what it holds is made)."""
    item.setData(None, GROUPS_PENDING_ROLE)
    item.setData(None, FACES_PENDING_ROLE)
    for role, value in (roles or {}).items():
        item.setData(value, role)


def fill_faces(item: QStandardItem, members, limit: int = 500) -> None:
    """``item``'s faces below it (the first ``limit``; the grid shows them all), in place of what it held."""
    _drop_rows(item)
    _set_pending(item, None)
    index, ref = item.index(), item.data(REF_ROLE)
    rows = [_leaf_cells(ref, Path(m.photo).name, {FACE_ROLE: m.detection_id,
                                                   TOOLTIP: f"{m.photo} ({m.status})"})
            for m in members[:limit]]
    if len(members) > limit:
        rows.append(_leaf_cells(ref, f"… and {len(members) - limit} more in the grid"))
    _insert(item.model(), index, 0, rows)


class _Finer:
    """Builds a group's finer groups when it is opened, each with the unowned faces it holds (counted then, for
    that group only: counting every level's groups up front took a third of a second at 100,000 faces)."""

    def __init__(self, state: State):
        self.state = state

    def fill(self, item: QStandardItem, cid: int) -> None:
        """``cid``'s finer groups under ``item``. Where a level holds the whole group again (the hierarchy joined
        nothing there), the next level down is shown instead, and at the finest level its faces: opening a group
        to find the same group inside says nothing."""
        state = self.state
        while True:
            finer = state.groups_at(state.clusters[cid][0] - 1)  # finest group -> its group one level below cid's
            sizes: Counter = Counter()
            for d in state.auto:
                child = finer[state.level0[d]]
                if state.clusters[child][1] == cid:
                    sizes[child] += 1
            if len(sizes) != 1:
                break
            cid = next(iter(sizes))
            if state.clusters[cid][0] == 0:
                _drop_rows(item)
                _set_pending(item, {FACES_PENDING_ROLE: True})
                return
        _drop_rows(item)
        _set_pending(item, None)
        children = sorted(sizes, key=lambda c: (-sizes[c], c))
        _insert(item.model(), item.index(), 0, [
            _group_cells(f"g{child} (level {state.clusters[child][0]})", f"g{child}", sizes[child],
                         peak=state.clusters[child][2], pending=_pending(self, ("auto", child)))
            for child in children])


def build_model(state: State, groups: list[GroupInfo], model: GroupTreeModel) -> list[QStandardItem]:
    """The listed groups as rows; what each holds (finer groups, then faces) is built when it is opened
    (``fill_groups``, ``fill_faces``): at 100,000 faces building every level up front took most of a refresh.
    A model listed before keeps the rows of groups listed as they were (a correction changes a few groups: at a
    million faces building all rows again took most of a second); those of them that were opened are closed
    again, to be filled anew, and returned."""
    model.setHorizontalHeaderLabels([COLUMNS[0], model.items.capitalize(), *COLUMNS[2:]])
    model.finer = _Finer(state)
    root = model.invisibleRootItem()
    keys = [RowKey.of(g) for g in groups]
    kept = set(keys) & set(model.keys) if len(model.keys) == root.rowCount() else set()
    if len(kept) < len(keys) // 2:  # mostly new (another level, say): built whole, which is quicker then
        kept = set()
    gone = [r for r, key in enumerate(model.keys) if key not in kept] if kept else range(root.rowCount())
    for first, last in reversed(_runs(gone)):  # from the end, so the rows before keep their numbers
        _drop_rows(root, range(first, last + 1))
    reopened = []
    for r, key in enumerate(key for key in model.keys if key in kept):
        if model.rowCount(model.index(r, 0)):  # opened: closed again, to be made anew
            item = root.child(r, 0)
            _drop_rows(item)
            _set_pending(item, _pending(model.finer, (key.kind, key.id), key.size))
            reopened.append(item)
    # New rows go in runs (all of them at once where nothing is kept), each run in one insertion.
    new = [r for r, key in enumerate(keys) if key not in kept]
    for first, last in _runs(new):
        _insert(model, QModelIndex(), first, [
            _group_cells(keys[r].shown, g.ref, g.size, g.confirmed, g.suggested,
                         name=g.name, top=True, peak=g.peak_detection_id, hidden=g.hidden,
                         pending=_pending(model.finer, (g.kind, g.id), g.size))
            for r, g in enumerate(groups[first:last + 1], first)])
    model.keys = keys
    return reopened


class RowKey(NamedTuple):
    """All a listed row shows of a group: a row whose key is unchanged is kept as it is."""

    ref: str
    kind: str
    id: int
    title: str
    hidden: bool
    name: str | None
    size: int
    confirmed: int
    suggested: int
    peak: int | None

    @classmethod
    def of(cls, g: GroupInfo) -> RowKey:
        return cls(g.ref, g.kind, g.id, g.title, g.hidden, g.name, g.size, g.confirmed, g.suggested,
                   g.peak_detection_id)

    @property
    def shown(self) -> str:
        """The title its row shows."""
        return self.title + (" (hidden)" if self.hidden else "")


def listed_row(model: GroupTreeModel, ref: str) -> tuple[str, int] | None:
    """(the title its row shows, its size) of the listed group ``ref`` (a reference such as g12, or a person's
    name), found by the row keys: no walk over the rows' items (100,000 rows with groups of one)."""
    ref = ref.strip().casefold()
    for key in model.keys:
        if key.ref == ref or (key.name or "").casefold() == ref:
            return key.shown, key.size
    return None


def _runs(rows) -> list[tuple[int, int]]:
    """Ascending row numbers as (first, last) runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r - 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


def icon_face(index) -> int | None:
    """The face a row shows as its icon (an index or an item): a group's representative, or the face itself."""
    peak = index.data(PEAK_ROLE)
    return peak if peak is not None else index.data(FACE_ROLE)


def pending(item: QStandardItem) -> str | None:
    """"groups" or "faces" if what ``item`` holds is still to be made (it was not opened yet), else None."""
    if item.data(GROUPS_PENDING_ROLE) is not None:
        return "groups"
    return "faces" if item.data(FACES_PENDING_ROLE) else None


def fill_groups(model: GroupTreeModel, item: QStandardItem) -> None:
    """``item``'s finer groups below it (see ``build_model``)."""
    model.finer.fill(item, item.data(GROUPS_PENDING_ROLE))


def say_below(item: QStandardItem, text: str) -> None:
    """A line of text below ``item`` in place of what it holds (why it could not be shown)."""
    _drop_rows(item)
    _set_pending(item, None)
    _insert(item.model(), item.index(), 0, [_leaf_cells(item.data(REF_ROLE), text)])


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
    who = "person"  # what a named group is ("species" in species mode)

    def setEditorData(self, editor: QLineEdit, index: QModelIndex) -> None:
        # The view calls this again whenever the row changes (its icon arriving, say): only the first call may
        # fill the editor, or what the user is typing would be wiped.
        if editor.property("filled"):
            return
        editor.setProperty("filled", True)
        editor.setText(index.data(NAME_ROLE) or "")
        editor.setPlaceholderText(f"name this {self.who}")

    def setModelData(self, editor: QLineEdit, model, index: QModelIndex) -> None:
        name = " ".join(editor.text().split())
        if name and name != (index.data(NAME_ROLE) or ""):
            self.renamed.emit(index.data(REF_ROLE), name)
