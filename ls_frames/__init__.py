"""ls_frames: Label Studio exports into pandas, Arrow and Parquet, and back.

Two stacks, network and data, meet in the media layer and the services above it. A layer
imports only the layers below it in its own stack (and the ground floor: ``errors`` and the
other top-level modules); front ends never import each other (``tests/test_layers.py``
checks every import against this drawing)::

    network:  transport            the HTTP connection, credentials, one retry transport
                -> exports         snapshots, conversions, downloads, the tasks API,
                                   the one-off snapshot job
    data:     reading              bytes -> Arrow record batches (pure: no HTTP, no pandas)
                -> tables          Frames, dtypes, the Parquet dataset, Delta tables
                -> geometry        pixels, boxes, overlaps, masks, tracks
                -> evaluation      scores, comparisons, agreement, the reference annotation
                -> drawing         regions drawn on their images, spans in HTML, plots
                -> training        splits, Hugging Face datasets, training folders
    both:     media                the files behind the tasks (fetch_media)
                -> pipeline        load_project, export_project, download_project
                -> sync            sync_parquet, sync_delta
                -> testing         a local Label Studio: install, serve, seed, the demo
                -> frontends       the CLI (``ls-frames``) | the panels (``ExportPanel``,
                                   ``ReviewPanel``)

Every public name is importable from here (``ls_frames.load_project``, ...), loaded on first
use so ``import ls_frames`` stays light.
"""

from typing import TYPE_CHECKING

from ls_frames._lazy import attach
from ls_frames._version import __version__
from ls_frames._warnings import (
    LSFramesWarning,
    MalformedResultWarning,
    PartialResultWarning,
    SnapshotFallbackWarning,
    SplitShareWarning,
)
from ls_frames.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ChecksumMismatch,
    ConcurrentWriteError,
    ConfigurationError,
    DatasetVersionError,
    DownloadError,
    ExportError,
    ExportFailed,
    ExportFormatError,
    ExportTimeout,
    HTTPError,
    LSFramesError,
    MediaError,
    NoProjectError,
    NotFound,
    OutputExistsError,
    PermissionDenied,
    RateLimited,
    RegionError,
    RequestTimeout,
    ServerError,
    SnapshotBuildStopped,
    StorageError,
    TransportError,
)

if TYPE_CHECKING:
    from ls_frames.drawing import (
        label_colors,
        plot_agreement,
        plot_confusion,
        plot_label_counts,
        plot_pr_curves,
        show,
        show_errors,
        show_grid,
        show_text,
        worst_errors,
    )
    from ls_frames.evaluation import (
        agreement,
        annotator_pivot,
        annotator_quality,
        compare_predictions,
        confusion,
        consensus,
        evaluate,
        pr_curve,
        reference_annotations,
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
    from ls_frames.exports.stale import delete_stale_snapshots, stale_snapshots
    from ls_frames.frontends.widgets import ExportPanel, ReviewPanel
    from ls_frames.geometry.brush import mask_to_rle, rle_to_mask
    from ls_frames.geometry.masks import region_masks
    from ls_frames.geometry.tracks import interpolate_tracks, iter_tracks
    from ls_frames.media import fetch_media
    from ls_frames.pipeline import (
        ImportResult,
        export_project,
        import_predictions,
        import_tasks,
        load_project,
        review_tab,
        review_tabs,
        snapshot_project,
    )
    from ls_frames.sync import sync_delta, sync_parquet
    from ls_frames.tables import (
        Frames,
        compact_delta,
        read_delta,
        read_export,
        read_parquet,
        to_parquet,
    )
    from ls_frames.tables.storage import read_storage
    from ls_frames.training import DatasetSummary, export_dataset, split, to_hf_dataset
    from ls_frames.transport import RetryPolicy, ServerCapabilities
    from ls_frames.writing import (
        boxes_to_regions,
        check_results,
        choices_to_regions,
        keypoints_to_regions,
        masks_to_regions,
        polygons_to_regions,
        spans_to_regions,
        to_results,
    )

# pandas is imported on first use of a table function, not by ``import ls_frames``: the
# client and the reading layer stay light for scripts that only download. The client
# (httpx) is imported on first use too: a script that only flattens a file never needs it.
_LAZY = {
    "AnnotationFilter": "ls_frames.exports",
    "Client": "ls_frames.exports",
    "ConvertedFormat": "ls_frames.exports",
    "Export": "ls_frames.exports",
    "ExportFormat": "ls_frames.exports",
    "ExportStatus": "ls_frames.exports",
    "LocalFilesExportStorage": "ls_frames.exports",
    "Serialization": "ls_frames.exports",
    "StorageStatus": "ls_frames.exports",
    "TaskFilter": "ls_frames.exports",
    "delete_stale_snapshots": "ls_frames.exports.stale",
    "stale_snapshots": "ls_frames.exports.stale",
    "RetryPolicy": "ls_frames.transport",
    "ServerCapabilities": "ls_frames.transport",
    "Frames": "ls_frames.tables",
    "read_export": "ls_frames.tables",
    "read_parquet": "ls_frames.tables",
    "read_delta": "ls_frames.tables",
    "compact_delta": "ls_frames.tables",
    "read_storage": "ls_frames.tables.storage",
    "to_parquet": "ls_frames.tables",
    "annotator_pivot": "ls_frames.evaluation",
    "compare_predictions": "ls_frames.evaluation",
    # the function, not the package attribute (which is the submodule once it is imported)
    "agreement": "ls_frames.evaluation.agreement",
    "consensus": "ls_frames.evaluation",
    "split": "ls_frames.training",
    "DatasetSummary": "ls_frames.training",
    "export_dataset": "ls_frames.training",
    "to_hf_dataset": "ls_frames.training",
    "confusion": "ls_frames.evaluation",
    "evaluate": "ls_frames.evaluation",
    "annotator_quality": "ls_frames.evaluation",
    "pr_curve": "ls_frames.evaluation",
    "reference_annotations": "ls_frames.evaluation",
    "label_colors": "ls_frames.drawing",
    "plot_agreement": "ls_frames.drawing",
    "plot_confusion": "ls_frames.drawing",
    "plot_label_counts": "ls_frames.drawing",
    "plot_pr_curves": "ls_frames.drawing",
    "show": "ls_frames.drawing",
    "show_errors": "ls_frames.drawing",
    "show_grid": "ls_frames.drawing",
    "show_text": "ls_frames.drawing",
    "worst_errors": "ls_frames.drawing",
    "interpolate_tracks": "ls_frames.geometry.tracks",
    "iter_tracks": "ls_frames.geometry.tracks",
    "region_masks": "ls_frames.geometry.masks",
    "mask_to_rle": "ls_frames.geometry.brush",
    "rle_to_mask": "ls_frames.geometry.brush",
    "boxes_to_regions": "ls_frames.writing",
    "check_results": "ls_frames.writing",
    "choices_to_regions": "ls_frames.writing",
    "keypoints_to_regions": "ls_frames.writing",
    "masks_to_regions": "ls_frames.writing",
    "polygons_to_regions": "ls_frames.writing",
    "spans_to_regions": "ls_frames.writing",
    "to_results": "ls_frames.writing",
    "download_project": "ls_frames.pipeline",
    "export_project": "ls_frames.pipeline",
    "load_project": "ls_frames.pipeline",
    "snapshot_project": "ls_frames.pipeline",
    "ImportResult": "ls_frames.pipeline",
    "import_predictions": "ls_frames.pipeline",
    "import_tasks": "ls_frames.pipeline",
    "review_tab": "ls_frames.pipeline",
    "review_tabs": "ls_frames.pipeline",
    "sync_delta": "ls_frames.sync",
    "sync_parquet": "ls_frames.sync",
    "ExportPanel": "ls_frames.frontends.widgets",
    "ReviewPanel": "ls_frames.frontends.widgets",
    "fetch_media": "ls_frames.media",
}


__getattr__, __dir__ = attach(__name__, _LAZY)


__all__ = [
    "APIError",
    "AnnotationFilter",
    "AuthenticationError",
    "BadRequest",
    "ChecksumMismatch",
    "Client",
    "ConcurrentWriteError",
    "ConfigurationError",
    "ConvertedFormat",
    "DatasetSummary",
    "DatasetVersionError",
    "DownloadError",
    "Export",
    "ExportError",
    "ExportFailed",
    "ExportFormat",
    "ExportFormatError",
    "ExportPanel",
    "ExportStatus",
    "ExportTimeout",
    "Frames",
    "HTTPError",
    "ImportResult",
    "LSFramesError",
    "LSFramesWarning",
    "LocalFilesExportStorage",
    "MalformedResultWarning",
    "MediaError",
    "NoProjectError",
    "NotFound",
    "OutputExistsError",
    "PartialResultWarning",
    "PermissionDenied",
    "RateLimited",
    "RegionError",
    "RequestTimeout",
    "RetryPolicy",
    "ReviewPanel",
    "Serialization",
    "ServerCapabilities",
    "ServerError",
    "SnapshotBuildStopped",
    "SnapshotFallbackWarning",
    "SplitShareWarning",
    "StorageError",
    "StorageStatus",
    "TaskFilter",
    "TransportError",
    "__version__",
    "agreement",
    "annotator_pivot",
    "annotator_quality",
    "boxes_to_regions",
    "check_results",
    "choices_to_regions",
    "compact_delta",
    "compare_predictions",
    "confusion",
    "consensus",
    "delete_stale_snapshots",
    "download_project",
    "evaluate",
    "export_dataset",
    "export_project",
    "fetch_media",
    "import_predictions",
    "import_tasks",
    "interpolate_tracks",
    "iter_tracks",
    "keypoints_to_regions",
    "label_colors",
    "load_project",
    "mask_to_rle",
    "masks_to_regions",
    "plot_agreement",
    "plot_confusion",
    "plot_label_counts",
    "plot_pr_curves",
    "polygons_to_regions",
    "pr_curve",
    "read_delta",
    "read_export",
    "read_parquet",
    "read_storage",
    "reference_annotations",
    "region_masks",
    "review_tab",
    "review_tabs",
    "rle_to_mask",
    "show",
    "show_errors",
    "show_grid",
    "show_text",
    "snapshot_project",
    "spans_to_regions",
    "split",
    "stale_snapshots",
    "sync_delta",
    "sync_parquet",
    "to_hf_dataset",
    "to_parquet",
    "to_results",
    "worst_errors",
]
