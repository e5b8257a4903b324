"""Second layer: the export lifecycle (formats, snapshots, conversions, downloads, storage)
the one-off snapshot job (:mod:`~ls_frames.exports.oneshot`) and the one-off read
through a snapshot or the paged task list (:mod:`~ls_frames.exports.route`)."""

from ls_frames.exports.client import Client
from ls_frames.exports.download import download_to, safe_basename
from ls_frames.exports.oneshot import SnapshotJob, one_off_snapshot, project_label_config
from ls_frames.exports.options import AnnotationFilter, ExportOptions, Serialization, TaskFilter
from ls_frames.exports.route import TasksJob, one_off_read
from ls_frames.exports.snapshot import ConvertedFormat, Export, ExportFormat, ExportStatus
from ls_frames.exports.storage import LocalFilesExportStorage, StorageStatus

__all__ = [
    "AnnotationFilter",
    "Client",
    "ConvertedFormat",
    "Export",
    "ExportFormat",
    "ExportOptions",
    "ExportStatus",
    "LocalFilesExportStorage",
    "Serialization",
    "SnapshotJob",
    "StorageStatus",
    "TaskFilter",
    "TasksJob",
    "download_to",
    "one_off_read",
    "one_off_snapshot",
    "project_label_config",
    "safe_basename",
]
