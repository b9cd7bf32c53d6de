"""The group tree: people first, then the automatic groups of the level the zoom shows, each with its finer
sub-groups inside (down to the finest level), so zooming out merges along the learned hierarchy."""

from __future__ import annotations

from collections import Counter, defaultdict

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

from ..organize.view import GroupInfo, State

REF_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ["Group", "Faces", "Confirmed", "Suggested"]


def _row(title: str, ref: str, size: int, confirmed: int = 0, suggested: int = 0) -> list[QStandardItem]:
    cells = [QStandardItem(title), QStandardItem(str(size)), QStandardItem(str(confirmed)),
             QStandardItem(str(suggested))]
    for cell in cells:
        cell.setEditable(False)
        cell.setData(ref, REF_ROLE)
    return cells


def build_model(state: State, groups: list[GroupInfo], model: QStandardItemModel | None = None
                ) -> QStandardItemModel:
    model = model or QStandardItemModel()
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
            row = _row(f"g{child} (level {state.clusters[child][0]})", f"g{child}", sizes[child])
            item.appendRow(row)
            add_children(row[0], child)

    for g in groups:
        row = _row(g.title + (" (hidden)" if g.hidden else ""), g.ref, g.size, g.confirmed, g.suggested)
        model.appendRow(row)
        if g.kind == "auto":
            add_children(row[0], g.id)
    return model
