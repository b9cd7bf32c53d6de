"""The photo library in SQLite (SQLAlchemy 2.x): schema, migrations, sessions. No Qt, no torch."""

from .library import Library, LibraryError, default_library_path, explain_db_error
from .models import (
    SCHEMA_VERSION,
    Analysis,
    Base,
    Cluster,
    ClusterMember,
    ClusterRun,
    Detection,
    Embedding,
    IndexRun,
    Photo,
    PhotoStatus,
)

__all__ = [
    "SCHEMA_VERSION", "Analysis", "Base", "Cluster", "ClusterMember", "ClusterRun", "Detection", "Embedding", "IndexRun", "Library", "LibraryError",
    "Photo", "PhotoStatus", "default_library_path", "explain_db_error",
]
