"""The desktop window (PySide6). The only package that imports Qt; it calls the core through
``photo_grouper.organize`` and ``photo_grouper.jobs``."""
