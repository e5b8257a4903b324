"""Second layer: the export lifecycle (formats, snapshots, conversions, downloads, storage)."""

from ls_frames.exports.client import Client, ExportFormat
from ls_frames.exports.download import download_to, safe_basename
from ls_frames.exports.options import AnnotationFilter, Serialization, TaskFilter
from ls_frames.exports.snapshot import ConvertedFormat, Export, ExportStatus
from ls_frames.exports.storage import LocalFilesExportStorage, StorageStatus

__all__ = [
    "AnnotationFilter",
    "Client",
    "ConvertedFormat",
    "Export",
    "ExportFormat",
    "ExportStatus",
    "LocalFilesExportStorage",
    "Serialization",
    "StorageStatus",
    "TaskFilter",
    "download_to",
    "safe_basename",
]
