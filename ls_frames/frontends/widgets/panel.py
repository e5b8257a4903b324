"""``ExportPanel``: pick a project, a view and the options, export, preview, save.

::

    panel = ls_frames.ExportPanel(project=12)   # LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY
    panel                                       # shown in the notebook; click Export
    panel.frames.regions                        # once it is done: what read_export gives

The panel holds no export logic: every button calls the functions a notebook user calls
(:class:`~ls_frames.Client` methods, the one-off read
:func:`~ls_frames.exports.route.one_off_read` that ``load_project`` uses,
:func:`~ls_frames.read_export`, :func:`~ls_frames.to_parquet`). The snapshot an export
makes is kept on the server (the panel lists it, converts it, deletes it on request), and
its provenance is the same as ``load_project``'s (``panel.frames.provenance``). The
"Route" choice reads the project through a snapshot, the paged task list, or ``auto``
(the default): when the server kills the snapshot's build, the status line says the
project was read through the task list instead. Jobs run
one at a time on a worker thread so the page stays responsive; ``wait()`` blocks until
they are done, and ``background=False`` runs them in the caller (scripts and tests).
Errors are shown in the panel in plain words (credentials redacted) and kept as
``panel.error``.

Export can be clicked while the panel is still loading (the project list, or the project
picked): the export is queued and runs once the load is done, on the loaded project. It is
disabled while an export is queued or running, so one click makes one snapshot.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from ls_frames.errors import LSFramesError, OutputExistsError
from ls_frames.exports import Client, Export, ExportOptions, TasksJob, one_off_read
from ls_frames.frontends.widgets.layout import ALL_TASKS, STEPS, PanelLayout
from ls_frames.media.dataset import fetch_dataset_media
from ls_frames.provenance import Provenance
from ls_frames.tables import Frames, read_export, to_parquet
from ls_frames.transport.secrets import redact

__all__ = ["ExportPanel"]

logger = logging.getLogger("ls_frames")


def _plain(exc: BaseException) -> str:
    """An error in plain words, without credentials."""
    if isinstance(exc, LSFramesError):
        return redact(str(exc))
    return redact(f"unexpected {type(exc).__name__}: {exc}")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def _client_first_deprecated(init: Callable[..., None]) -> Callable[..., None]:
    """``ExportPanel(client, project)`` (the 0.1 order) still works, with a warning."""

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if args and isinstance(args[0], Client):
            warnings.warn(
                "ExportPanel(client, project) is deprecated; use "
                "ExportPanel(project, client=client)",
                DeprecationWarning,
                stacklevel=2,
            )
            kwargs["client"], args = args[0], args[1:]
        init(self, *args, **kwargs)

    return wrapper


class ExportPanel(PanelLayout):
    """A notebook panel over the export lifecycle of one Label Studio.

    ``client`` defaults to ``Client()`` (the environment's server and key); ``project``
    preselects a project. ``work_dir`` keeps the downloaded snapshot (a temporary folder
    otherwise). ``timeout`` bounds the wait for a snapshot, in seconds.

    Scripting: set the pickers' ``.value`` and call ``.click()`` on the buttons, then
    ``wait()``. Results: ``frames`` (a :class:`~ls_frames.Frames`), ``export`` (the
    snapshot used), ``paths`` (``"snapshot"``, ``"parquet"``, ``"media"`` and one entry per
    downloaded format), ``media`` (the media table when *fetch media* was ticked on save),
    ``error`` (the last error, or ``None``).

    Parameters
    ----------
    project
        The project to preselect: its id or its title.
    client
        The :class:`~ls_frames.Client` to use; by default one is made from the
        environment (and closed by :meth:`close`). ``ExportPanel(client, project)``, the
        0.1 order, still works with a ``DeprecationWarning``.
    work_dir
        Where downloads go; a temporary folder by default (removed by :meth:`close`).
    timeout
        Seconds to wait for a snapshot; ``None`` (the default) waits as long as it takes.
    background
        Run jobs in a thread so the notebook stays responsive (``wait()`` joins it).
    """

    @_client_first_deprecated
    def __init__(
        self,
        project: int | str | None = None,
        *,
        client: Client | None = None,
        work_dir: str | Path | None = None,
        timeout: float | None = None,
        background: bool = True,
    ) -> None:
        self._own_client = client is None
        self.client = client or Client()
        self.timeout = timeout
        self.background = background
        self._own_work_dir = not work_dir
        self.work_dir = (
            Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="ls_frames-panel-"))
        )
        self.frames: Frames | None = None
        self.export: Export | None = None
        self.paths: dict[str, Path] = {}
        self.error: BaseException | None = None
        self.label_config: str | None = None
        self.media: pd.DataFrame | None = None
        self._provenance: Provenance | None = None  # the last export's
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ls_frames-panel")
        self._jobs: list[Future[None]] = []
        self._lock = threading.Lock()
        self._pending = 0
        self._exports = 0  # exports queued or running
        self._wanted: int | str | None = project  # asked for, until the list is loaded
        self._quiet = False
        self._defaults: dict[str, str] = {}
        self._build()
        self._wire()
        self._run("loading projects", lambda: self._load_projects(project))

    def _wire(self) -> None:
        self.project_picker.observe(self._on_project, names="value")
        self.export_button.on_click(lambda _: self._export_clicked())
        self.save_button.on_click(lambda _: self._run("saving Parquet", self._save))
        self.download_button.on_click(lambda _: self._run("downloading", self._download))
        self.snapshots.refresh_button.on_click(
            lambda _: self._run("listing snapshots", self._list_snapshots)
        )
        self.snapshots.delete_button.on_click(lambda _: self._delete_clicked())

    # -- jobs -------------------------------------------------------------------------
    def _run(self, what: str, job: Callable[[], None]) -> None:
        """Run ``job`` after the jobs before it, showing ``what`` and any error."""
        with self._lock:
            self._pending += 1
        self._sync_buttons()

        def work() -> None:
            self.error = None
            self.error_box.value = ""
            self._say(what + " …")
            try:
                job()
            except Exception as exc:  # shown, kept, logged: never swallowed
                self.error = exc
                self.error_box.value = (
                    "<div style='color:#b00020;white-space:pre-wrap'><b>Failed while "
                    f"{html.escape(what)}:</b> {html.escape(_plain(exc))}</div>"
                )
                self._say(f"{what} failed")
                logger.info("panel job %r failed: %s", what, _plain(exc))
            finally:
                with self._lock:
                    self._pending -= 1
                self._sync_buttons()

        if self.background:
            with self._lock:
                self._jobs.append(self._pool.submit(work))
        else:
            work()

    def wait(self, timeout: float | None = None) -> ExportPanel:
        """Block until every job started so far is done (errors stay in ``error``)."""
        # A job may start another (a project load after the project list): loop until
        # none is left.
        while True:
            with self._lock:
                self._jobs = [job for job in self._jobs if not job.done()]
                first = self._jobs[0] if self._jobs else None
            if first is None:
                return self
            first.result(timeout=timeout)

    def close(self) -> None:
        """Close the widgets and release what the panel made: the worker thread (after the
        job running now), the client it made (one passed in is left open) and its temporary
        folder (a ``work_dir`` passed in is kept)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._own_client:
            self.client.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        super().close()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._pending > 0

    def _sync_buttons(self) -> None:
        busy = self.busy
        has_project = self.project_picker.value is not None or self._wanted is not None
        with self._lock:
            exporting = self._exports > 0
        # Export stays clickable during a load: the click is queued behind it.
        self.export_button.disabled = exporting or not has_project
        self.save_button.disabled = busy or self.frames is None
        self.download_button.disabled = busy or self.export is None
        self.snapshots.refresh_button.disabled = busy or not has_project
        self.snapshots.delete_button.disabled = busy or not self.snapshots.value
        self.project_picker.disabled = busy

    def _say(self, text: str) -> None:
        self.status.value = html.escape(text)

    # -- project ----------------------------------------------------------------------
    def _load_projects(self, project: int | str | None) -> None:
        pid = None
        try:
            projects = self.client.list_projects()
            options = [
                (f"{p.get('title') or 'untitled'} (#{p['id']})", int(p["id"]))
                for p in sorted(projects, key=lambda p: -int(p["id"]))
            ]
            self._quiet = True
            try:
                self.project_picker.options = options
                self.project_picker.value = None
                self._say(f"{len(options)} projects")
                if project is not None:
                    pid = self.client.resolve_project(project)  # an id or a title
                    if pid not in {value for _, value in options}:
                        raise LSFramesError(
                            f"project {project} is not among the projects this key sees"
                        )
                    self.project_picker.value = pid
            finally:
                self._quiet = False
        finally:
            self._wanted = None
        if pid is not None:
            # loaded in this job, so that an Export clicked meanwhile runs after it
            self._load_project(pid)

    def _on_project(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        pid = int(change["new"])
        self._run(f"loading project {pid}", lambda: self._load_project(pid))

    def _load_project(self, pid: int) -> None:
        self.frames = self.export = None
        self.paths = {}
        self.preview.clear()
        self.progress.layout.visibility = "hidden"
        config = self.client.get_project(pid).get("label_config")
        self.label_config = str(config) if config else None
        views = self.client.list_views(pid)
        self.view_picker.options = [("all tasks", ALL_TASKS)] + [
            (str((v.get("data") or {}).get("title") or f"view {v['id']}"), int(v["id"]))
            for v in views
        ]
        self.view_picker.value = ALL_TASKS
        self.formats.set_formats(self.client.export_formats(pid))
        self.snapshots.set_exports(self.client.list_exports(pid))
        # default folders follow the project until the user types one of their own
        for name, widget, default in (
            ("parquet", self.parquet_path, f"project-{pid}"),
            ("formats", self.format_path, f"project-{pid}-exports"),
            ("media", self.media_path, f"project-{pid}-media"),
        ):
            if not widget.value or widget.value == self._defaults.get(name):
                widget.value = default
            self._defaults[name] = default
        self._say(
            f"project {pid}: {len(views)} views, {len(self.snapshots.select.options) - 1} snapshots"
        )

    def _list_snapshots(self) -> None:
        pid = self._project()
        self.snapshots.set_exports(self.client.list_exports(pid), keep=self.snapshots.value)
        self._say(f"{len(self.snapshots.select.options) - 1} snapshots")

    def _delete_clicked(self) -> None:
        sid = self.snapshots.value
        button = self.snapshots.delete_button
        if sid is None:
            return
        if button.description != f"Really delete #{sid}?":
            button.description = f"Really delete #{sid}?"  # a second click deletes
            return
        pid = self._project()

        def delete() -> None:
            self.client.delete_export(pid, sid)
            self._list_snapshots()
            self._say(f"deleted snapshot {sid}")

        self._run(f"deleting snapshot {sid}", delete)

    def _project(self) -> int:
        value = self.project_picker.value
        if value is None:
            raise LSFramesError("pick a project first")
        return int(value)

    # -- export -----------------------------------------------------------------------
    def _export_clicked(self) -> None:
        with self._lock:
            self._exports += 1

        def export() -> None:
            try:
                self._export()
            finally:
                with self._lock:
                    self._exports -= 1

        self._run("export", export)

    def _step(self, n: int, text: str) -> None:
        self.progress.layout.visibility = "visible"
        self.progress.value = n
        self.progress.bar_style = "success" if n >= STEPS else ""
        self._say(text)

    def _export(self) -> None:
        pid = self._project()
        reuse = self.snapshots.value
        view = self.view_picker.value or None
        source = "snapshot" if reuse else str(self.options.source.value)
        self.frames = self.export = self._provenance = None
        self.preview.clear()
        self._step(
            0,
            f"waiting for snapshot {reuse}"
            if reuse
            else "reading the task list …"
            if source == "tasks"
            else "creating a snapshot …",
        )
        options = ExportOptions.coerce(
            task_filter=self.options.task_filter(view),
            annotation_filter=self.options.annotation_filter(),
            serialization=self.options.serialization(),
            export_id=reuse,
            # the panel lists the snapshot, converts it and deletes it on request
            keep_snapshot=source != "tasks",
            timeout=self.timeout,
            progress=False,
            source=source,  # type: ignore[arg-type]
        )
        config = self.label_config if self.label_config is not None else False
        folder = self.work_dir / f"project-{pid}"
        with one_off_read(self.client, pid, options, label_config=config) as job:
            self.export = job.export
            what = "the task list" if job.export is None else f"snapshot {job.export.id}"
            self._step(1, f"downloading {what} …")
            with self._watch_download(folder, f"downloading {what}"):
                path = job.download(folder)
            self._provenance = job.provenance
        self.paths = {"snapshot": path}
        self._step(2, f"reading {path.name} ({_size(path.stat().st_size)}) …")
        frames = read_export(path, label_config=self.label_config, progress=False)
        frames.provenance = self._provenance
        self._step(3, "drawing the preview …")
        self.preview.show(frames)
        self.frames = frames
        with contextlib.suppress(LSFramesError):  # the list is a courtesy; the export is done
            self.snapshots.set_exports(self.client.list_exports(pid), keep=reuse)
        done = f"{job.task_count} tasks, {len(frames.regions):,} regions"
        if isinstance(job, TasksJob):
            why = f" ({job.reason})" if job.reason else ""
            self._step(STEPS, f"read through the task list{why}: {done}")
        else:
            self._step(STEPS, f"{what}: {done}")

    @contextlib.contextmanager
    def _watch_download(self, folder: Path, what: str) -> Iterator[None]:
        """Show the bytes written so far while a download runs (the ``.part`` files)."""
        folder.mkdir(parents=True, exist_ok=True)
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.3):
                written = sum(p.stat().st_size for p in folder.glob(".*.part") if p.exists())
                if written:
                    self._say(f"{what}: {_size(written)}")

        watcher = threading.Thread(target=watch, name="ls_frames-panel-bytes", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    # -- save -------------------------------------------------------------------------
    def _save(self) -> None:
        if "snapshot" not in self.paths or self._provenance is None:
            raise LSFramesError("export first: there is nothing to save yet")
        pid = self._provenance.project
        out = Path(self.parquet_path.value.strip() or f"project-{pid}")
        if out.exists() and not self.overwrite.value:
            raise self._exists(out)
        path = to_parquet(
            self.paths["snapshot"],
            out,
            provenance=self._provenance.to_dict(),
            label_config=self.label_config,
            overwrite=bool(self.overwrite.value),
            progress=False,
        )
        self.paths["parquet"] = Path(path)
        self._say(f"saved the Parquet dataset to {path}")
        if self.fetch_media.value:
            cache = Path(self.media_path.value.strip() or f"project-{pid}-media")
            self._say(f"saved the Parquet dataset to {path}; fetching media into {cache} …")
            self.media = fetch_dataset_media(path, cache, client=self.client, progress=False)
            self.paths["media"] = cache
            failed = int(self.media["error"].notna().sum())
            self._say(
                f"saved the Parquet dataset to {path}; media: {len(self.media) - failed} "
                f"file(s) in {cache}" + (f", {failed} failed (see panel.media)" if failed else "")
            )

    def _exists(self, out: Path) -> OutputExistsError:
        """The error for a folder that exists, naming the check box (not ``overwrite=``)."""
        error = OutputExistsError(out)
        error.args = (f"{out} exists; tick '{self.overwrite.description}' to replace it",)
        return error

    def _download(self) -> None:
        export = self.export
        if export is None and self._provenance is not None:
            raise LSFramesError(
                "the project was read through the task list: converted formats need a "
                "snapshot (pick Route: snapshot and export again)"
            )
        if export is None:
            raise LSFramesError("export first: there is no snapshot to convert yet")
        chosen = self.formats.chosen
        if not chosen:
            raise LSFramesError("tick at least one format under 'Converted formats'")
        folder = Path(self.format_path.value.strip() or f"project-{export.project}-exports")
        for name in chosen:
            with self._watch_download(folder, f"downloading {name}"):
                self.paths[name] = export.download(folder, export_type=name, progress=False)
        self._say("downloaded " + ", ".join(f"{n} to {self.paths[n]}" for n in chosen))
