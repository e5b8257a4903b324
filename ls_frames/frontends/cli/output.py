"""What the commands print: summaries of a dataset, a media table, a sync run, listings.

Each function turns a result into text; none prints or reaches the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ls_frames._warnings import count_reasons
from ls_frames.tables import read_parquet

if TYPE_CHECKING:  # the sync modules are imported when a sync command runs
    from ls_frames.exports import Export, ExportFormat
    from ls_frames.sync import DeltaSyncResult, SyncResult

__all__ = [
    "cli_words",
    "delta_sync_summary",
    "format_line",
    "media_summary",
    "snapshot_line",
    "summarize",
    "sync_summary",
]


#: the library's words for its arguments, and the command line's for the same thing
_FLAGS = (
    ("pass overwrite=True to replace it", "add --overwrite to replace it"),
    ("pass full=True", "add --full"),
    ("full=True", "--full"),
    ("allow_hosts=", "--allow-host"),
    ("pass url=...", "pass --url"),
    ("pass api_key=...", "pass --api-key"),
    ("export_type", "--format"),
    ("keep_file", "--keep-json"),
    ("timeout must", "--timeout must"),
    ("export_id must", "--export-id must"),
    ("overlap must", "--overlap must"),
    ('(source="tasks"; `--source tasks` on the command line)', "(--source tasks)"),
)


def cli_words(message: str) -> str:
    """An error message with the library's argument names turned into the flags that set
    them (``pass full=True`` -> ``add --full``)."""
    for python, flag in _FLAGS:
        message = message.replace(python, flag)
    return message


def summarize(out_dir: Path) -> str:
    """A few lines on the tables of a dataset written by ``to_parquet``."""
    frames = read_parquet(out_dir)
    lines = [f"Parquet dataset: {out_dir}"]
    for name, df in frames.items():
        lines.append(f"  {name:<12} {len(df):>9,} rows  {len(df.columns):>3} columns")
    annotations = frames.annotations
    if len(annotations):
        skipped = int(annotations["was_cancelled"].fillna(False).sum())
        ground_truth = int(annotations["ground_truth"].fillna(False).sum())
        people = annotations["completed_by_email"].dropna().nunique()
        lines.append(
            f"  annotations: {skipped} skipped, {ground_truth} ground truth, "
            f"by {people} annotator(s)"
        )
    regions = frames.regions
    if len(regions):
        by_source = regions["source"].value_counts()
        lines.append("  regions by source: " + ", ".join(f"{k}={v}" for k, v in by_source.items()))
    if len(regions) and "labels" in regions:
        for source, rows in regions.groupby("source", observed=True, sort=True):
            counts = rows["labels"].explode().value_counts().head(8)
            if len(counts):
                lines.append(
                    f"  labels in {source}s: " + ", ".join(f"{k}={v}" for k, v in counts.items())
                )
    return "\n".join(lines)


def media_summary(table: Any) -> str:
    """Lines on a media table: what the run did, the failures by reason, the first ones."""
    counts = table.attrs.get("media", {})
    done = ", ".join(
        f"{counts[k]} {k.replace('_', ' ')}"
        for k in ("downloaded", "cached", "not_modified", "unchanged", "failed")
        if counts.get(k)
    )
    lines = [
        f"media: {len(table):,} reference(s) ({done or 'nothing to fetch'}), "
        f"{int(counts.get('bytes_downloaded', 0)):,} bytes downloaded, "
        f"cache {counts.get('cache_dir', '')}"
    ]
    reasons = counts.get("reasons") or {}
    if reasons:
        lines.append(f"  failed by reason: {count_reasons(reasons)}")
    failed = table[table["error"].notna()]
    for row in failed.head(10).itertuples():
        lines.append(f"  task {row.task_id} {row.field}: {row.error} ({row.uri})")
    if len(failed) > 10:
        lines.append(f"  ... and {len(failed) - 10} more failure(s)")
    return "\n".join(lines)


def sync_summary(result: SyncResult) -> str:
    """The first line ``ls-frames sync --out`` prints (the dataset's summary follows)."""
    return (
        f"{result.mode}: {result.changed_tasks} task(s) exported, "
        f"{result.deleted_tasks} deleted, {result.total_tasks} in the dataset "
        f"({result.seconds:.1f} s)"
    )


def delta_sync_summary(result: DeltaSyncResult) -> str:
    """The two lines ``ls-frames sync --delta`` prints: the run, then the commits."""
    return (
        f"{result.mode}: {result.changed_tasks} task(s) exported, "
        f"{result.deleted_tasks} deleted, {result.total_tasks} in the tables "
        f"({result.seconds:.1f} s)\n"
        f"version {result.version}: {result.commits} commit(s), "
        f"{result.files_written} file(s) / {result.bytes_written:,} bytes written, "
        f"{result.files_removed} file(s) / {result.bytes_removed:,} bytes replaced"
    )


def format_line(fmt: ExportFormat) -> str:
    """One line of ``ls-frames formats``."""
    return f"{fmt.name:<24} {'disabled' if fmt.disabled else 'enabled ':<9} {fmt.title}"


def snapshot_line(export: Export) -> str:
    """One line of ``ls-frames snapshots``."""
    return (
        f"{export.id:>6}  {export.status.value:<12} {export.task_count or 0:>8} tasks  "
        f"{export.raw.get('created_at', '')}  {export.title}"
    )
