"""The photo library in SQLite (SQLAlchemy 2.x): schema, migrations, sessions. No Qt, no torch."""

from .library import Library, LibraryError, default_library_path, explain_db_error, fetch_all, fetch_in, id_chunks
from .models import (
    GROUPING,
    KIND_OF_MODE,
    SCHEMA_VERSION,
    Analysis,
    Assignment,
    Base,
    Cluster,
    ClusterMember,
    ClusterRun,
    Detection,
    Embedding,
    Ignored,
    IndexRun,
    Operation,
    Person,
    Photo,
    PhotoStatus,
    Rejection,
    Revision,
    Suggestion,
)

__all__ = [
    "GROUPING", "KIND_OF_MODE", "SCHEMA_VERSION", "Analysis", "Assignment", "Base", "Cluster", "ClusterMember",
    "ClusterRun", "Detection", "Embedding", "Ignored", "IndexRun", "Library", "LibraryError", "Operation", "Person",
    "Photo", "PhotoStatus", "Rejection", "Revision", "Suggestion", "default_library_path", "explain_db_error",
    "fetch_all", "fetch_in", "id_chunks",
]
