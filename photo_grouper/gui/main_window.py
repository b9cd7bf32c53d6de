"""The main window: the group tree with a zoom over the hierarchy's levels, the selected group's faces as a
thumbnail grid, corrections through the organize core with undo, and indexing and export as background jobs."""

from __future__ import annotations

import sqlite3
import time
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTreeView,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from ..media.scan import ScanError, check_folder
from ..media.thumbnails import ThumbnailCache, default_thumbnail_dir
from ..organize import Change, OrganizeError, Organizer
from ..organize.words import WORDS, level_said, suggestions_said, why_empty_said
from ..store import Library, LibraryError, default_library_path
from .export_dialog import ExportDialog
from .face_grid import FaceGrid, FaceListModel, ThumbnailLoader
from .group_tree import (
    FACE_ROLE,
    HIDDEN_ROLE,
    LEAF_ROLE,
    REF_ROLE,
    TOP_ROLE,
    GroupTreeModel,
    RenameDelegate,
    build_model,
    fill_faces,
    fill_groups,
    icon_face,
    let_go,
    listed_row,
    pending,
    say_below,
    square_icon,
)
from .not_faces_dialog import NotFacesDialog
from .photo_viewer import PhotoViewer
from .undo import CoreUndoStack
from .workers import ExportJob, IndexJob, Job

MODES = {"faces": "&Faces", "species": "&Species"}
TREE_ICON = 40
QUEUED = Qt.ConnectionType.QueuedConnection  # acts on drops and edits after the view has finished with them


class MainWindow(QMainWindow):
    def __init__(self, library_path: Path | None = None, mode: str | None = None,
                 thumbnail_dir: Path | None = None):
        super().__init__()
        self.setWindowTitle("photo-grouper")
        self.settings = QSettings()
        self.mode = mode or str(self.settings.value("mode", "faces"))
        if self.mode not in MODES:
            self.mode = "faces"
        self.library: Library | None = None
        self.organizer: Organizer | None = None
        self.show_hidden = self.settings.value("view/show_hidden", False, type=bool)
        # A library has many faces seen once (a guest, a face in a crowd): their groups of one are not listed unless
        # asked for, and the label says how many there are.
        self.show_single = self.settings.value("view/show_single", False, type=bool)

        # Left: the group tree with the zoom over the levels above it.
        self.model = GroupTreeModel(self)
        self.model.groups_dropped.connect(self.merge_dropped, QUEUED)
        self.model.faces_dropped.connect(self.move_dropped, QUEUED)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)
        # Every row is as tall as the first (each shows a face, or a blank one of the same size until its thumbnail
        # is made): the view lays out 100,000 rows without asking each for its size.
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.tree.setExpandsOnDoubleClick(False)  # double-click renames
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.DoubleClicked)
        self.rename_delegate = RenameDelegate(self.tree)
        self.rename_delegate.renamed.connect(self.rename, QUEUED)
        self.tree.setItemDelegateForColumn(0, self.rename_delegate)
        self.tree.selectionModel().selectionChanged.connect(self._show_selected_group)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._tree_menu)
        self.tree.setIconSize(QSize(TREE_ICON, TREE_ICON))
        self.tree.header().setStretchLastSection(False)
        self.tree.setUniformRowHeights(True)  # every row is an icon's height: the view need not ask each one
        # What a group holds is filled in after the expansion, not inside it: changing rows while the view walks
        # them (as expandAll does) corrupts its state.
        self.tree.expanded.connect(lambda index: QTimer.singleShot(0, partial(self._fill,
                                                                               QPersistentModelIndex(index))))
        self.tree.viewport().installEventFilter(self)  # Ctrl+wheel over the tree zooms the hierarchy
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        # A tick per level: the levels are steps (the default one, where the grouping stopped, and the zoom-out
        # levels past it), not a continuous scale.
        self.zoom.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.zoom.setTickInterval(1)
        self.zoom.setPageStep(1)
        self._zoom_levels = (0, 0)  # the zoom's grouping: (levels, the default one), Organizer.zoom_levels
        self.zoom.setToolTip("Zoom: left shows the finest groups, right the coarsest (Ctrl+= / Ctrl+-; Ctrl+0: where "
                             "the grouping stopped)")
        self.zoom.valueChanged.connect(self.refresh)
        self.zoom_label = QLabel()
        self.zoom_label.setWordWrap(True)  # a long note wraps instead of widening the pane
        zoom_row = QHBoxLayout()
        zoom_row.addWidget(QLabel("Finer"))
        zoom_row.addWidget(self.zoom, 1)
        zoom_row.addWidget(QLabel("Coarser"))
        # Find a name: the listed groups whose title holds the text (a library of thousands of people).
        self.find = QLineEdit()
        self.find.setClearButtonEnabled(True)
        self._find_timer = QTimer(self, singleShot=True, interval=150)  # typing a word filters once
        self._find_timer.timeout.connect(self._apply_find)
        self._finding = False  # some rows may be hidden by the find box
        self.find.textChanged.connect(self._find_timer.start)
        left = QVBoxLayout()
        left.addLayout(zoom_row)
        left.addWidget(self.zoom_label)
        left.addWidget(self.find)
        left.addWidget(self.tree, 1)

        # Right: the faces of the selected group.
        self.thumbnails = ThumbnailCache(thumbnail_dir or default_thumbnail_dir())
        self.loader = ThumbnailLoader(self.thumbnails, self)
        self.loader.ready.connect(self._thumbnail_ready)
        self._icon_items: dict[str, list] = {}  # thumbnail key -> tree rows waiting for it as their icon
        blank = QPixmap(TREE_ICON, TREE_ICON)
        blank.fill(Qt.GlobalColor.transparent)
        self._blank_icon = self.model.blank_icon = QIcon(blank)
        # Rows the view asked for an icon, given theirs together once it has finished painting.
        self._icons_wanted: list[QPersistentModelIndex] = []
        self._icon_timer = QTimer(self, singleShot=True, interval=0)
        self._icon_timer.timeout.connect(self._give_icons)
        self.model.icon_wanted.connect(self._want_icon)
        self.faces = FaceListModel(self.loader, self)
        self.grid = FaceGrid(self.faces, int(self.settings.value("thumbnails/size", 112)))
        self.grid.doubleClicked.connect(self.open_photo)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        self.grid.zoomed.connect(self._thumbnail_size_changed)
        self.grid_title = QLabel(f"Choose a group to see its {WORDS[self.mode].many}")
        self.thumb_size = QSlider(Qt.Orientation.Horizontal)
        self.thumb_size.setRange(FaceGrid.MIN_SIDE, FaceGrid.MAX_SIDE)
        self.thumb_size.setValue(self.grid.side())
        self.thumb_size.valueChanged.connect(self.grid.set_side)
        grid_row = QHBoxLayout()
        grid_row.addWidget(self.grid_title, 1)
        grid_row.addWidget(QLabel("Size"))
        grid_row.addWidget(self.thumb_size)
        right = QVBoxLayout()
        right.addLayout(grid_row)
        right.addWidget(self.grid, 1)
        self.viewers: list[PhotoViewer] = []

        splitter = QSplitter()
        for layout in (left, right):
            pane = QWidget()
            pane.setLayout(layout)
            splitter.addWidget(pane)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([460, 640])
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.undo_stack = CoreUndoStack(self._after_undo_step, self)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("history")
        self.history_dock.setWidget(QUndoView(self.undo_stack))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)
        self.history_dock.hide()
        self._build_menus()

        # Progress of a running job, in the status bar: bar, what/rate/ETA, Cancel.
        self.job: Job | None = None
        self.progress_bar = QProgressBar()
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_job)
        for w in (self.progress_text, self.progress_bar, self.cancel_button):
            self.statusBar().addPermanentWidget(w)
            w.hide()
        self._stage = ("", 0.0, 0)

        self.resize(1100, 700)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        panes = self.settings.value("window/panes")
        if panes is not None:
            self.splitter.restoreState(panes)
        if library_path is None and self.settings.value("library"):
            remembered = Path(str(self.settings.value("library")))
            library_path = remembered if remembered.is_file() else None
        self.library_path = library_path
        if library_path is not None:
            self.open_library(library_path)

    # ---- menus -------------------------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self.index_action = menu.addAction("Index a photo folder…", QKeySequence("Ctrl+I"), self.choose_folder)
        menu.addAction("Open library…", QKeySequence.StandardKey.Open, self.choose_library)
        self.export_action = menu.addAction("Export albums…", QKeySequence("Ctrl+E"), self.choose_export)
        menu.addSeparator()
        menu.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)

        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self.rename_action = edit.addAction("&Rename…", QKeySequence("F2"), self.rename_selected)
        self.merge_action = edit.addAction("&Merge selected groups", QKeySequence("Ctrl+M"), self.merge_selected)
        self.split_action = edit.addAction("&Split off as a new group", QKeySequence("Ctrl+Shift+S"),
                                           self.split_selected)
        self.confirm_action = edit.addAction("&Confirm suggested", QKeySequence("Ctrl+Return"), self.confirm_selected)
        self.confirm_action.setEnabled(False)
        self.reject_action = edit.addAction("Re&ject", QKeySequence.StandardKey.Delete, self.reject_selected)
        self.not_a_face_action = edit.addAction("Not a &face", self.not_a_face_selected)
        self.hide_action = edit.addAction("&Hide or show group", QKeySequence("Ctrl+H"), self.hide_selected)
        # F2 and Delete belong to the widget with focus' selection, so they act only where that makes sense.
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.tree.addAction(self.rename_action)
        self.reject_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.grid.addAction(self.reject_action)

        view = self.menuBar().addMenu("&View")
        # Zooming in splits groups (a finer level), zooming out merges them along the hierarchy.
        self.zoom_in_action = view.addAction("Zoom in: finer groups", lambda: self.zoom.setValue(self.zoom.value() - 1))
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_out_action = view.addAction("Zoom out: coarser groups",
                                              lambda: self.zoom.setValue(self.zoom.value() + 1))
        self.zoom_out_action.setShortcuts([QKeySequence("Ctrl+-")])
        # Back to the level where the grouping stopped, from a zoom either way (as a viewer's "actual size").
        self.zoom_default_action = view.addAction("Zoom to where the grouping stopped", QKeySequence("Ctrl+0"),
                                                  lambda: self.zoom.setValue(self._zoom_levels[1]))
        view.addAction("Larger thumbnails", QKeySequence("Ctrl+Shift+="), lambda: self.grid.set_side(self.grid.side() + 16))
        view.addAction("Smaller thumbnails", QKeySequence("Ctrl+Shift+-"), lambda: self.grid.set_side(self.grid.side() - 16))
        view.addAction("Find a name", QKeySequence.StandardKey.Find, self._focus_find)
        self.show_hidden_action = view.addAction("Show hidden groups")
        self.show_hidden_action.setCheckable(True)
        self.show_hidden_action.setChecked(self.show_hidden)
        self.show_hidden_action.toggled.connect(self._set_show_hidden)
        self.show_single_action = view.addAction("Show groups of one")
        self.show_single_action.setCheckable(True)
        self.show_single_action.setChecked(self.show_single)
        self.show_single_action.toggled.connect(self._set_show_single)
        view.addAction(self.history_dock.toggleViewAction())
        self.not_faces_action = view.addAction("Boxes the face check turned down…", self.show_not_faces)
        view.addSeparator()
        modes = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for key, label in MODES.items():
            action = view.addAction(f"{label} mode")
            action.setCheckable(True)
            action.setChecked(key == self.mode)
            action.triggered.connect(lambda _=False, k=key: self.set_mode(k))
            modes.addAction(action)
            self.mode_actions[key] = action
        self._name_things()

    def _name_things(self) -> None:
        """The words of the actions, the tree and the thumbnails for the mode (faces of people, or photos of
        species); the face check's actions only where there are faces."""
        one, many, who, _ = WORDS[self.mode]
        self.thumb_size.setToolTip(f"Thumbnail size (Ctrl+wheel over the {many})")
        self.find.setPlaceholderText(f"Find a {who} or group by name (Ctrl+F)")
        self.reject_action.setText(f"Re&ject {many} (not this {who})")
        self.confirm_action.setText(f"&Confirm suggested {many} (yes, this {who})")
        self.show_single_action.setText(f"Show groups of one {one}")
        self.not_a_face_action.setVisible(self.mode == "faces")
        self.not_faces_action.setVisible(self.mode == "faces")
        self.model.items = many
        self.faces.unit = one
        self.rename_delegate.who = who

    def _tree_menu(self, pos) -> None:
        self.tree_menu().exec(self.tree.viewport().mapToGlobal(pos))

    def _grid_menu(self, pos) -> None:
        self.grid_menu().exec(self.grid.viewport().mapToGlobal(pos))

    def tree_menu(self) -> QMenu:
        menu = QMenu(self)
        for action in (self.rename_action, self.merge_action, self.split_action, self.hide_action):
            menu.addAction(action)
        return menu

    def grid_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Open photo", lambda: self.open_photo(self.grid.currentIndex()))
        menu.addAction(self.split_action)
        menu.addAction(self.confirm_action)
        menu.addAction(self.reject_action)
        menu.addAction(self.not_a_face_action)
        move = menu.addMenu("Move to")
        for person in self.organizer.people(include_hidden=False) if self.organizer else []:
            if person.name and person.ref != self.faces.group_ref:
                move.addAction(person.name, lambda ref=person.ref: self.move_selected_to(ref))
        move.setEnabled(not move.isEmpty())
        return menu

    # ---- library and mode --------------------------------------------------------------------------------------

    def choose_library(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open library", "", "photo-grouper library (*.sqlite3)")
        if path:
            self.open_library(Path(path))

    def open_library(self, path: Path) -> bool:
        library = None
        try:
            library = Library(path, create=False)
            organizer = Organizer(library, self.mode)
            levels = organizer.zoom_levels()
        except LibraryError as exc:
            if library is not None:
                library.close()
            QMessageBox.critical(self, "Cannot open the library", str(exc))
            return False
        if self.library is not None:
            self.library.close()
        self.library = library
        self.library_path = Path(path)
        self.settings.setValue("library", str(self.library_path))
        self._use(organizer, levels)
        self.statusBar().showMessage(f"{path}")
        return True

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        self.settings.setValue("mode", mode)
        self.mode_actions[mode].setChecked(True)
        self._name_things()
        if self.library is not None:
            organizer = Organizer(self.library, mode)
            self._use(organizer, organizer.zoom_levels())

    def _use(self, organizer: Organizer, levels: tuple[int, int]) -> None:
        """Show ``organizer``'s groups (a library just opened, or another mode) at the level where the hierarchy
        stopped (``levels``: ``Organizer.zoom_levels``), with its undo log."""
        if self.organizer is not None:
            self.organizer.close()
        self.organizer = organizer
        self.model.keys = []  # no row of another library or mode is kept (``build_model``)
        self._reset_zoom(levels)
        self.undo_stack.load(organizer)
        self.refresh()

    def _reset_zoom(self, levels: tuple[int, int]) -> None:
        """The zoom over a grouping's levels (``Organizer.zoom_levels``), at the default one: where the hierarchy
        stopped, with its zoom-out levels to the right."""
        self._zoom_levels = levels
        count, default = levels
        self.zoom.blockSignals(True)
        self.zoom.setRange(0, max(count, 1) - 1)
        self.zoom.setValue(default)
        self.zoom.blockSignals(False)

    def _set_show_hidden(self, shown: bool) -> None:
        self.show_hidden = shown
        self.settings.setValue("view/show_hidden", shown)
        self.refresh()

    def _set_show_single(self, shown: bool) -> None:
        self.show_single = shown
        self.settings.setValue("view/show_single", shown)
        self.refresh()

    def _thumbnail_size_changed(self, side: int) -> None:
        self.thumb_size.blockSignals(True)
        self.thumb_size.setValue(side)
        self.thumb_size.blockSignals(False)
        self.settings.setValue("thumbnails/size", side)

    # ---- the tree and the grid ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the tree at the zoom's level, keeping the selected group selected if it still exists."""
        if self.organizer is None:
            return
        keep = self.current_ref()
        try:
            levels = self.organizer.zoom_levels()
            if levels != self._zoom_levels:  # grouped again elsewhere (an index from a terminal), to other levels:
                self._reset_zoom(levels)  # the zoom's level may be gone; shown where the new grouping stopped
            state, groups = self.organizer.groups(self.zoom.value(), include_hidden=self.show_hidden,
                                                  min_size=1 if self.show_single else 2)
        except (OrganizeError, LibraryError) as exc:
            QMessageBox.critical(self, "Cannot read the library", str(exc))
            return
        single = groups.small
        self.tree.selectionModel().blockSignals(True)
        self._icons_wanted = []
        reopened = build_model(state, groups, self.model)
        self.tree.selectionModel().blockSignals(False)
        self._icon_items = {key: alive for key, rows in self._icon_items.items()  # rows kept still wait
                            if (alive := [i for i in rows if i.isValid()])}
        for item in reopened:  # a group left open shows what it holds now
            if self.tree.isExpanded(item.index()):
                self._fill(QPersistentModelIndex(item.index()))
        self._size_columns()
        top = state.level >= state.levels - 1
        self.zoom_label.setText(f"level {state.level} of {state.levels}: {len(groups)} groups"
                                + (f", {level_said(state.level, state.default_level)}" if state.levels else "")
                                + (", the coarsest" if top and state.levels else "")
                                + (f"; {single} of one {WORDS[self.mode].one} not listed (View > Show groups "
                                   f"of one {WORDS[self.mode].one})"
                                   if single else ""))
        # At either end of the hierarchy the way on is greyed out rather than silent.
        self.zoom_in_action.setEnabled(state.level > 0)
        self.zoom_out_action.setEnabled(not top)
        self.zoom_default_action.setEnabled(state.level != state.default_level)
        found = self._apply_find(select=False)
        row = next((r for r in found if self.model.keys[r].ref == keep), found[0] if found else None)
        if row is not None:
            chosen = self.tree.selectionModel().selectedRows(0)
            self.select_ref_row(row)
            if self.tree.selectionModel().selectedRows(0) == chosen:  # a row kept as it was: no signal
                self._show_selected_group()
        else:
            self.faces.set_members(None, [])
            one = WORDS[self.mode].one
            if self.model.rowCount():
                text = self._nothing_found()
            elif single:
                text = f"Only groups of one {one} here (View > Show groups of one {one})"
            elif elsewhere := self.organizer.grouped_instead():
                text = (f"No {self.mode} groups in this library; it holds {elsewhere[0]} groups (View > "
                        f"{MODES[elsewhere[0]].replace('&', '')} mode)")
            else:
                said = why_empty_said(self.mode, *self.organizer.why_empty(), "index a photo folder (File > Index)")
                text = said[0].upper() + said[1:]
            self.grid_title.setText(text)

    def _focus_find(self) -> None:
        self.find.setFocus()
        self.find.selectAll()

    def _apply_find(self, select: bool = True) -> list[int]:
        """Show only the listed groups whose title holds the find box's text (any case); returns the rows shown.
        The chosen group stays chosen if it is shown, else the first shown one is chosen (``select``)."""
        text = self.find.text().strip().casefold()
        if not text and not self._finding:  # nothing hidden, nothing to hide: no walk over 50,000 rows
            return list(range(self.model.rowCount()))
        self._finding = bool(text)
        shown = []
        for r in range(self.model.rowCount()):
            hide = bool(text) and text not in self.model.item(r, 0).text().casefold()
            self.tree.setRowHidden(r, QModelIndex(), hide)
            if not hide:
                shown.append(r)
        current = self.tree.currentIndex()
        while current.parent().isValid():
            current = current.parent()
        if select and shown and (not current.isValid() or current.row() not in shown):
            self.select_ref_row(shown[0])
        elif select and not shown and self.model.rowCount():
            self.tree.selectionModel().clear()
            self.faces.set_members(None, [])
            self.grid_title.setText(self._nothing_found())
        return shown

    def _nothing_found(self) -> str:
        return f"No listed group's name holds {self.find.text().strip()!r}"

    def _size_columns(self) -> None:
        """The names take what the counts leave, the counts as wide as their titles (not measured row by row): the
        pane shows every column without a scroll bar. Again after each rebuild, which makes the columns anew."""
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, self.model.columnCount()):
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            header.resizeSection(column, header.fontMetrics().horizontalAdvance(title) + 16)

    def _want_icon(self, index) -> None:
        self._icons_wanted.append(QPersistentModelIndex(index))
        self._icon_timer.start()

    def _give_icons(self) -> None:
        """Icons for the rows the view asked about that are on screen (a column's width is measured on rows
        that are not); the others ask again when they are painted."""
        wanted, self._icons_wanted = self._icons_wanted, []
        if self.organizer is None:
            return
        area = self.tree.viewport().rect()
        shown = {}
        for persistent in wanted:
            index = self.model.index(persistent.row(), 0, persistent.parent()) if persistent.isValid() else None
            item = self.model.itemFromIndex(index) if index is not None else None
            if item is not None and item.icon().isNull() and self.tree.visualRect(index).intersects(area):
                shown[id(item)] = item
        if not shown:
            return
        try:
            faces = self.organizer.faces({icon_face(item) for item in shown.values()})
        except (OrganizeError, LibraryError):
            return  # the library changed underneath: the refresh that follows asks again
        self._set_icons([(item, faces[icon_face(item)]) for item in shown.values() if icon_face(item) in faces])

    def _set_icons(self, pairs) -> None:
        for item, member in pairs:
            pixmap = self.loader.pixmap(member)
            if pixmap is not None:
                item.setIcon(square_icon(pixmap))
            else:  # an empty icon of the right size until it comes, so the column is wide enough already
                item.setIcon(self._blank_icon)
                self._icon_items.setdefault(self.loader.key(member), []).append(QPersistentModelIndex(item.index()))

    def _thumbnail_ready(self, key: str) -> None:
        for row in self._icon_items.pop(key, []):
            pixmap = self.loader.cached(key)
            if pixmap is not None and row.isValid():  # not a row removed meanwhile
                self.model.setData(self.model.index(row.row(), 0, row.parent()), square_icon(pixmap),
                                   Qt.ItemDataRole.DecorationRole)

    def _fill(self, index: QPersistentModelIndex) -> None:
        """An opened group's finer groups, or at the finest level its faces, made now."""
        if not index.isValid() or self.organizer is None:  # the tree was rebuilt meanwhile
            return
        item = self.model.itemFromIndex(self.model.index(index.row(), 0, index.parent()))
        what = pending(item) if item is not None else None
        if what == "groups":
            fill_groups(self.model, item)
            what = pending(item)  # groups each holding the whole group again end at its faces
        if what != "faces":
            return
        try:
            _, members = self.organizer.show(item.data(REF_ROLE), self.zoom.value())
        except (OrganizeError, LibraryError) as exc:
            say_below(item, str(exc))
            return
        fill_faces(item, members)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.tree.viewport() and event.type() == QEvent.Type.Wheel and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            # Wheel forward zooms in (finer groups), backward out (coarser), as in a map.
            self.zoom.setValue(self.zoom.value() + (-1 if event.angleDelta().y() > 0 else 1))
            return True
        return super().eventFilter(watched, event)

    def select_ref_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.tree.selectionModel().setCurrentIndex(
            index, self.tree.selectionModel().SelectionFlag.ClearAndSelect
            | self.tree.selectionModel().SelectionFlag.Rows)

    def current_ref(self) -> str | None:
        index = self.tree.currentIndex()
        return index.siblingAtColumn(0).data(REF_ROLE) if index.isValid() else None

    def selected_top_refs(self) -> list[str]:
        rows = self.tree.selectionModel().selectedRows(0)
        return [i.data(REF_ROLE) for i in rows if i.data(TOP_ROLE)]

    def _show_selected_group(self, *_) -> None:
        ref = self.current_ref()
        self.confirm_action.setEnabled(False)
        if ref is None or self.organizer is None:
            self.faces.set_members(None, [])
            return
        try:
            info, members = self.organizer.show(ref, self.zoom.value())
        except (OrganizeError, LibraryError) as exc:
            self.faces.set_members(None, [])
            self.grid_title.setText(str(exc))
            return
        self.faces.set_members(ref, members)
        self.confirm_action.setEnabled(info.suggested > 0)
        self.grid_title.setText(f"{info.title}: {len(members)} {WORDS[self.mode].one}(s)")

    def open_photo(self, index, faces: FaceListModel | None = None) -> PhotoViewer | None:
        """The photo of the face at ``index`` of ``faces`` (default: the chosen group's)."""
        if not index.isValid():
            return None
        viewer = PhotoViewer((faces or self.faces).members[index.row()], self)
        viewer.finished.connect(lambda _=0, v=viewer: self.viewers.remove(v))
        self.viewers.append(viewer)
        viewer.show()
        return viewer

    def show_not_faces(self) -> NotFacesDialog | None:
        if self.organizer is None:
            return None
        dialog = NotFacesDialog(self, self.loader)
        dialog.show()
        return dialog

    # ---- corrections -------------------------------------------------------------------------------------------

    def apply(self, operation, title: str = "Cannot do that") -> Change | None:
        """Run one organize operation; on success it goes on the undo stack, on refusal the user is told why and
        nothing changed (each operation is one transaction)."""
        if self.organizer is None:
            return None
        try:
            change = operation(self.organizer)
        except (OrganizeError, LibraryError) as exc:
            QMessageBox.warning(self, title, str(exc))
            return None
        self.undo_stack.record(change)
        self._report(change)
        return change

    def _after_undo_step(self, change: Change | None, error: str | None) -> None:
        if error:
            QMessageBox.warning(self, "Cannot undo or redo", error)
            return
        self._report(change)

    def _report(self, change: Change) -> None:
        self.refresh()
        self.statusBar().showMessage("; ".join([change.summary, *change.notes]), 15000)

    def rename_selected(self) -> None:
        index = self.tree.currentIndex()
        if index.isValid() and index.data(TOP_ROLE):
            self.tree.edit(index.siblingAtColumn(0))

    def rename(self, ref: str, name: str) -> Change | None:
        """Name a group; a name another person already has joins the group to them, so the user is asked first
        (a typo or a namesake would otherwise merge two people, as photo apps ask "same person?")."""
        if self.organizer is None:
            return None
        key = " ".join(name.split()).casefold()
        try:
            people = self.organizer.people()
        except (OrganizeError, LibraryError):
            people = []  # the rename says what is wrong
        same = next((p for p in people if p.name and p.name.casefold() == key
                     and ref.strip().casefold() not in (p.ref, key)), None)  # not the group itself, by its name
        if same is not None:
            w = WORDS[self.mode]
            answer = QMessageBox.question(
                self, f"Same {w.who}?", f"{same.name} is already a {w.who} ({same.size} {w.many}). Is "
                f"{self._title_of(ref)} the same {w.who}? Its {w.many} will be {same.name}'s.")
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return self.apply(lambda org: org.name(ref, name), "Cannot rename")

    def merge_selected(self) -> Change | None:
        refs = self.selected_top_refs()
        if len(refs) < 2:
            QMessageBox.information(self, "Merge", "Select two or more groups to merge (Ctrl+click).")
            return None
        return self._confirm_merge(refs)

    def merge_dropped(self, refs: list[str], target: str) -> Change | None:
        return self._confirm_merge([target, *refs])

    def _confirm_merge(self, refs: list[str]) -> Change | None:
        titles = [self._title_of(r) for r in refs]
        answer = QMessageBox.question(self, "Merge groups",
                                      f"Merge these groups into one {WORDS[self.mode].who}?\n\n" + "\n".join(titles))
        if answer != QMessageBox.StandardButton.Yes:
            return None
        return self.apply(lambda org: org.merge(refs), "Cannot merge")

    def _title_of(self, ref: str) -> str:
        row = listed_row(self.model, ref)
        return f"{row[0]} ({row[1]} {WORDS[self.mode].many})" if row else ref

    def split_selected(self) -> Change | None:
        """The faces selected in the grid, or the finer groups selected in the tree, become a new group."""
        faces = [m.detection_id for m in self.grid.selected_members()]
        if faces and self.faces.group_ref:
            source = self.faces.group_ref
            return self.apply(lambda org: org.split(source, faces=faces), "Cannot split")
        rows = self.tree.selectionModel().selectedRows(0)
        leaves = [i for i in rows if i.data(FACE_ROLE) is not None]
        if leaves:  # faces chosen in the tree: split off from the listed group they are in
            source, ids = _listed_ref(leaves[0]), [i.data(FACE_ROLE) for i in leaves]
            return self.apply(lambda org: org.split(source, faces=ids), "Cannot split")
        subgroups = [i for i in rows if not i.data(TOP_ROLE) and not i.data(LEAF_ROLE)]
        if subgroups:
            source, refs = _listed_ref(subgroups[0]), [i.data(REF_ROLE) for i in subgroups]
            return self.apply(lambda org: org.split(source, subgroups=refs), "Cannot split")
        QMessageBox.information(self, "Split", f"Select {WORDS[self.mode].many} in the grid, or finer groups inside a "
                                "group, first.")
        return None

    def confirm_selected(self) -> Change | None:
        """The chosen suggested faces become the shown person's; with nothing chosen, every one suggested to them."""
        ref, chosen = self.faces.group_ref, self.grid.selected_members()
        if not ref or not self.confirm_action.isEnabled():
            return None
        faces = [m.detection_id for m in chosen if m.status == "suggested"]
        if chosen and not faces:
            self.statusBar().showMessage(f"None of the chosen {WORDS[self.mode].many} is suggested: they are confirmed "
                                         "already", 15000)
            return None
        return self.apply(lambda org: org.confirm(ref, faces or None), "Cannot confirm")

    def reject_selected(self) -> Change | None:
        faces = [m.detection_id for m in self.grid.selected_members()]
        if not faces or not self.faces.group_ref:
            return None
        source = self.faces.group_ref
        return self.apply(lambda org: org.reject(source, faces), "Cannot reject")

    def not_a_face_selected(self) -> Change | None:
        faces = [m.detection_id for m in self.grid.selected_members()]
        return self.apply(lambda org: org.ignore(faces, "not-a-face")) if faces else None

    def move_selected_to(self, target: str) -> Change | None:
        faces = [m.detection_id for m in self.grid.selected_members()]
        return self.apply(lambda org: org.move(faces, target), "Cannot move") if faces else None

    def move_dropped(self, source: str, faces: list[int], target: str) -> Change | None:
        return self.apply(lambda org: org.move(faces, target), "Cannot move")

    def hide_selected(self) -> None:
        """Hide the selected groups; hidden ones (listed with View > Show hidden groups) are shown again."""
        rows = [i for i in self.tree.selectionModel().selectedRows(0) if i.data(TOP_ROLE)]
        for ref, hidden in [(i.data(REF_ROLE), bool(i.data(HIDDEN_ROLE))) for i in rows]:
            if self.apply(lambda org, r=ref, h=hidden: org.hide(r, not h), "Cannot hide") is None:
                return

    # ---- jobs: index and export --------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Index a photo folder", str(self.settings.value("folder", "")))
        if folder:
            self.start_index(Path(folder))

    def start_index(self, folder: Path, workers: int | None = None) -> IndexJob | None:
        """Scan, detect, embed and group ``folder`` in a job process; progress shows in the status bar."""
        try:
            folder = check_folder(folder)
        except ScanError as exc:
            QMessageBox.critical(self, "Cannot index that folder", str(exc))
            return None
        self.settings.setValue("folder", str(folder))
        path = self.library_path or default_library_path()
        job = IndexJob(path, folder, self.mode, workers, parent=self)
        return job if self._start_job(job, f"indexing {folder}…", self._on_indexed) else None

    def choose_export(self) -> None:
        if self.organizer is None:
            QMessageBox.information(self, "Export albums", "Open a library first.")
            return
        dialog = ExportDialog(self.organizer.people(include_hidden=False),
                              str(self.settings.value("export/destination", "")), self, WORDS[self.mode])
        if dialog.exec():
            self.start_export(dialog.destination_path(), dialog.options())

    def start_export(self, destination: Path, options: dict) -> ExportJob | None:
        self.settings.setValue("export/destination", str(destination))
        job = ExportJob(self.library_path, destination, {"mode": self.mode, **options}, parent=self)
        return job if self._start_job(job, f"exporting to {destination}…", self._on_exported) else None

    def _start_job(self, job: Job, text: str, on_finished) -> bool:
        if self.job is not None:
            QMessageBox.information(self, "Busy", "A job is running; cancel it or wait for it to end.")
            return False
        self.job = job
        job.progress.connect(self._on_progress)
        job.finished.connect(on_finished)
        job.failed.connect(self._on_failed)
        for w in (self.progress_text, self.progress_bar, self.cancel_button):
            w.show()
        self.cancel_button.setEnabled(True)
        self.index_action.setEnabled(False)
        self.export_action.setEnabled(False)
        self.progress_text.setText(text)
        self._stage = ("", 0.0, 0)
        job.start()
        return True

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_text.setText("stopping after the work in hand…")

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage[0]:
            self._stage = (stage, now, done)
        _, since, first = self._stage
        rate = (done - first) / (now - since) if now > since and done > first else 0.0
        eta = f", {((total - done) / rate):.0f} s left" if rate > 0 and total > done else ""
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        if stage == "cluster":  # reported in thousandths of the work, not in photos
            self.progress_text.setText(f"{stage}: {done / max(total, 1):.0%}" + eta)
        else:
            self.progress_text.setText(f"{stage}: {done}/{total}" + (f", {rate:.1f}/s" if rate else "") + eta)

    def _job_ended(self) -> None:
        self.job = None
        for w in (self.progress_text, self.progress_bar, self.cancel_button):
            w.hide()
        self.index_action.setEnabled(True)
        self.export_action.setEnabled(True)

    def _on_indexed(self, report) -> None:
        self._job_ended()
        self.library_path = self.library_path or default_library_path()
        self.open_library(self.library_path)
        an = report.analyse
        if report.status == "cancelled":
            self.statusBar().showMessage("Cancelled: everything done so far is saved; index again to resume")
        else:
            c = report.cluster or {}
            notes = ([f"{report.check.rejected} box(es) that are not faces left out"] if report.check.rejected
                     else []) + \
                ([f"{an.replaced} {WORDS[self.mode].one}(s) embedded again, the way this version embeds (names and "
                  "corrections kept)"] if an.replaced else []) + \
                ([an.fallback] if an.fallback else []) + \
                ([f"{c['copies']} copies of a photo grouped with it"] if c.get("copies") else []) + \
                ([f"{c['damaged']} damaged descriptor(s) left out"] if c.get("damaged") else []) + \
                ([f"{c['parted']} group(s) parted that held two faces of one photo"] if c.get("parted") else []) + \
                (["groups kept: nothing new to group"] if c.get("unchanged") else []) + \
                ([c["fallback"]] if c.get("fallback") else []) + \
                report.scan.left_out() + \
                ([f"{suggestions_said(self.mode, c['suggested'], c.get('new_suggested', 0))} (Edit > Confirm "
                  "suggested)"] if c.get("suggested") else [])
            self.statusBar().showMessage(f"Indexed {report.root}: {an.found} found in {report.seconds:.0f} s"
                                         + "".join(f"; {note}" for note in notes))

    def _on_exported(self, report) -> None:
        self._job_ended()
        text = (f"Exported {report.people} album(s): {report.written} photo(s) written, {report.already} already "
                f"there" + (f", {report.sidecars_written} XMP sidecar(s)" if report.sidecars_written else ""))
        self.statusBar().showMessage(text)
        if report.warnings:
            QMessageBox.warning(self, "Export", "\n".join(report.warnings))

    def _on_failed(self, message: str) -> None:
        self._job_ended()
        QMessageBox.critical(self, "The job failed", message)

    def changeEvent(self, event: QEvent) -> None:
        """Back in the window after the library changed elsewhere (an index or a correction from the command line,
        another window): the groups listed again, so what is shown is what is there. Not while a job of this
        window runs: it lists them when it ends."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow() and self.job is None and \
                self.organizer is not None:
            try:
                changed = self.organizer.changed()
            except sqlite3.Error:
                return  # a library that cannot be read says so when it is next used
            if changed:
                self.undo_stack.load(self.organizer)  # corrections made there are undone from here too
                self.refresh()
                self.statusBar().showMessage("The library changed outside this window: its groups are listed again")

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/panes", self.splitter.saveState())
        self.settings.sync()
        if self.job is not None:
            self.job.cancel()
            self.job.wait(30)
        self.loader.shutdown()
        if self.organizer is not None:
            self.organizer.close()
        if self.library is not None:
            self.library.close()
        let_go(self.model)
        super().closeEvent(event)


def _listed_ref(index) -> str:
    """The reference of the listed (top-level) group that a tree row sits in."""
    while index.parent().isValid():
        index = index.parent()
    return index.data(REF_ROLE)
