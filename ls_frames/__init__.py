"""ls_frames: Label Studio exports into pandas, Arrow and Parquet.

Layers, lowest first (a layer never imports one above it)::

    transport  ->  exports  ->  reading  ->  tables  ->  front ends (functions, CLI, panel)
"""

from ls_frames._version import __version__
from ls_frames.errors import (
    APIError,
    AuthenticationError,
    ChecksumMismatch,
    ConfigurationError,
    DownloadError,
    ExportError,
    ExportFailed,
    ExportFormatError,
    ExportTimeout,
    HTTPError,
    LSFramesError,
    NotFound,
    PermissionDenied,
    StorageError,
)
from ls_frames.exports import (
    AnnotationFilter,
    Client,
    ConvertedFormat,
    Export,
    ExportFormat,
    ExportStatus,
    LocalFilesExportStorage,
    Serialization,
    StorageStatus,
    TaskFilter,
)
from ls_frames.transport import RetryPolicy

__all__ = [
    "APIError",
    "AnnotationFilter",
    "AuthenticationError",
    "ChecksumMismatch",
    "Client",
    "ConfigurationError",
    "ConvertedFormat",
    "DownloadError",
    "Export",
    "ExportError",
    "ExportFailed",
    "ExportFormat",
    "ExportFormatError",
    "ExportStatus",
    "ExportTimeout",
    "HTTPError",
    "LSFramesError",
    "LocalFilesExportStorage",
    "NotFound",
    "PermissionDenied",
    "RetryPolicy",
    "Serialization",
    "StorageError",
    "StorageStatus",
    "TaskFilter",
    "__version__",
]
