"""``ReviewPanel``: a gallery of what a model got right and wrong, drawn on the images.

::

    media = ls_frames.fetch_media(frames, "media")
    panel = ls_frames.ReviewPanel(frames, media=media, from_name="box")
    panel                          # filter to "false positive", slide the score threshold
    panel.rows                     # the rows the filters keep (every page)
    panel.tab_button.click()       # the same as clicking "Send to Label Studio"

One row per outcome (:func:`~ls_frames.evaluation.outcomes.region_outcomes`): each
predicted region (true or false positive), each reference region no prediction found
(false negative), each task where annotators disagree. The filters pick a label,
annotator, model version and outcome; the score threshold recomputes precision and recall
per model version as it moves (predictions under it left out: their matches become
misses); each card draws its task with :func:`~ls_frames.show` and links to it in Label
Studio. "Send to Label Studio" makes a Data Manager tab holding exactly the tasks of the
selection (:func:`~ls_frames.review_tabs`). The panel does its work in the caller's thread
(a page of 24 Full-HD images draws in well under a second); errors are shown in the panel
and kept as ``panel.error``.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ipywidgets as W
import pandas as pd

from ls_frames.errors import ConfigurationError, LSFramesError
from ls_frames.evaluation.outcomes import OUTCOME_COLUMNS, region_outcomes
from ls_frames.evaluation.reference import Reference
from ls_frames.exports import Client
from ls_frames.frontends.widgets.gallery import (
    ANY,
    OUTCOMES,
    SORTS,
    Choice,
    card_html,
    grid_html,
    image_uri,
    metrics,
    metrics_html,
    page_of,
    select,
    task_link,
)
from ls_frames.pipeline.review import review_tabs
from ls_frames.tables import Frames
from ls_frames.transport.secrets import redact

__all__ = ["ReviewPanel"]

_WIDE = {"description_width": "90px"}
_CACHE = 256


def _plain(exc: BaseException) -> str:
    if isinstance(exc, LSFramesError):
        return redact(str(exc))
    return redact(f"unexpected {type(exc).__name__}: {exc}")


def _options(values: Any, every: str) -> list[tuple[str, str]]:
    names = sorted({str(v) for v in values if v is not None and v is not pd.NA and str(v)})
    return [(every, ANY)] + [(n, n) for n in names]


def _dropdown(description: str, options: list[tuple[str, str]], css: str) -> W.Dropdown:
    box = W.Dropdown(
        options=options,
        value=ANY if any(v == ANY for _, v in options) else options[0][1],
        description=description,
        style=_WIDE,
        layout=W.Layout(width="300px"),
    )
    box.add_class(css)
    return box


class ReviewPanel(W.VBox):
    """A review gallery of one control's outcomes, drawn on the task images.

    Parameters
    ----------
    frames
        The tables of a project with annotations and predictions (``load_project``,
        :func:`~ls_frames.read_export`, :func:`~ls_frames.read_parquet`).
    media
        The images, as :func:`~ls_frames.show` takes them: the table of
        :func:`~ls_frames.fetch_media`, a folder, or a mapping ``task_id -> path``.
    from_name
        The control to review (rectangles, polygons, spans or choices).
    evaluation
        :func:`~ls_frames.evaluation.outcomes.region_outcomes`' table when it is at
        hand (else it is computed), or :func:`~ls_frames.evaluate`'s table of these frames:
        the gallery then keeps its model versions.
    client
        For the review tab and the task links (default: a client made from
        ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY`` when the button is clicked; links
        use the server the frames were exported from).
    project
        The project of the links and the tab (default: the frames' provenance).
    reference
        What each task is judged by, as in :func:`~ls_frames.evaluate`.
    iou_threshold
        The IoU of a match.
    low_iou
        The IoU under which a predicted region counts as "low IoU".
    page_size
        Cards per page.
    card_width
        Pixels: the width each image is drawn at.
    workers
        Threads drawing a page's images.

    Attributes
    ----------
    outcomes : pandas.DataFrame
        Every row, at a score threshold of 0.
    rows : pandas.DataFrame
        The rows the filters keep at the threshold, in the sort order (every page).
    scores : pandas.DataFrame
        Precision, recall, F1 and the counts per model version at the threshold (what
        the panel shows above the cards).
    page_rows : pandas.DataFrame
        The rows of the page shown.
    links : list of str
        The Label Studio link of each card of the page.
    tab_urls : list of str
        The tabs the button made, last click.
    error : BaseException or None
        The last error (also shown in the panel).

    Raises
    ------
    ConfigurationError
        What :func:`~ls_frames.evaluate` refuses, an ``evaluation`` that is neither table,
        a bad ``page_size``.
    """

    def __init__(
        self,
        frames: Frames,
        *,
        media: Any,
        from_name: str,
        evaluation: pd.DataFrame | None = None,
        client: Client | None = None,
        project: int | None = None,
        reference: Reference = "ground_truth",
        iou_threshold: float = 0.5,
        low_iou: float = 0.75,
        page_size: int = 24,
        card_width: int = 320,
        workers: int = 2,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ConfigurationError(f"page_size must be a whole number >= 1, not {page_size!r}")
        self.frames, self.media, self.from_name = frames, media, from_name
        self.client, self.reference, self.low_iou = client, reference, low_iou
        self.page_size, self.card_width, self.workers = page_size, card_width, workers
        self.outcomes = self._outcomes(evaluation, iou_threshold)
        self.project = project if project is not None else self._provenance("project")
        self.rows = self.page_rows = self.outcomes.iloc[:0]
        self.links: list[str] = []
        self.tab_urls: list[str] = []
        self.error: BaseException | None = None
        self.page = 0
        self._images: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._title = ""
        self._build()
        self.refresh()

    # -- the rows ---------------------------------------------------------------------
    def _outcomes(self, evaluation: pd.DataFrame | None, iou_threshold: float) -> pd.DataFrame:
        columns = set() if evaluation is None else set(map(str, evaluation.columns))
        if evaluation is not None and set(OUTCOME_COLUMNS) <= columns:
            return evaluation
        if evaluation is not None and not {"model_version", "label", "tp", "fp"} <= columns:
            raise ConfigurationError(
                "evaluation must be the table of ls_frames.evaluate or of "
                "ls_frames.evaluation.outcomes.region_outcomes"
            )
        table = region_outcomes(
            self.frames, self.from_name, iou_threshold=iou_threshold, reference=self.reference
        )
        if evaluation is not None:  # evaluate's table: its model versions
            versions = {str(v) for v in evaluation["model_version"].dropna()}
            kind = table["outcome"].astype(object)
            keep = (kind == "disagree") | table["model_version"].astype(object).isin(versions)
            table = table[keep.to_numpy(bool)].reset_index(drop=True)
        return table

    @property
    def choice(self) -> Choice:
        """The filters, threshold and sort order as they are set."""
        return Choice(
            label=self.label_filter.value,
            annotator=self.annotator_filter.value,
            model_version=self.version_filter.value,
            outcome=self.outcome_filter.value,
            threshold=float(self.threshold.value),
            low_iou=self.low_iou,
            sort=self.sort.value,
        )

    @property
    def task_ids(self) -> list[int]:
        """The tasks of the selection (every page), sorted: what the button sends."""
        return sorted({int(t) for t in self.rows["task_id"]})

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        o = self.outcomes
        self.label_filter = _dropdown("label", _options(o["label"], "every label"), "lsf-label")
        names = [n for names in o["annotators"] for n in names]
        self.annotator_filter = _dropdown(
            "annotator", _options(names, "every annotator"), "lsf-annotator"
        )
        self.version_filter = _dropdown(
            "model", _options(o["model_version"], "every model version"), "lsf-model-version"
        )
        outcomes = [("every outcome", ANY)] + [(name, key) for key, name in OUTCOMES.items()]
        self.outcome_filter = _dropdown("outcome", outcomes, "lsf-outcome-filter")
        scores = o["score"].dropna()
        top = max(1.0, float(scores.max())) if len(scores) else 1.0
        self.threshold = W.FloatSlider(
            value=0.0,
            min=0.0,
            max=top,
            step=0.01,
            description="score ≥",
            continuous_update=False,
            readout_format=".2f",
            style=_WIDE,
            layout=W.Layout(width="420px"),
        )
        self.threshold.add_class("lsf-threshold")
        self.sort = _dropdown("sort", [(k, k) for k in SORTS], "lsf-sort")
        self.metrics = W.HTML("")
        self.metrics.add_class("lsf-metrics-box")
        self.previous_button = W.Button(description="Previous", icon="arrow-left")
        self.next_button = W.Button(description="Next", icon="arrow-right")
        self.next_button.add_class("lsf-next")
        self.page_label = W.HTML("")
        self.page_label.add_class("lsf-page")
        self.grid = W.HTML("")
        self.grid.add_class("lsf-gallery")
        self.tab_title = W.Text(
            value="", description="tab title", style=_WIDE, layout=W.Layout(width="420px")
        )
        self.tab_button = W.Button(
            description="Send to Label Studio", icon="share", button_style="primary"
        )
        self.tab_button.add_class("lsf-send-tab")
        self.status = W.HTML("")
        self.status.add_class("lsf-status")
        self.error_box = W.HTML("")
        self.error_box.add_class("lsf-error")
        super().__init__(
            [
                W.HTML(
                    f"<h3 style='margin:4px 0'>Review: {html.escape(self.from_name)}</h3>"
                    "<small>Annotations are drawn with solid lines, predictions dashed; the "
                    "regions of each card's row in bold.</small>"
                ),
                W.HBox([self.label_filter, self.annotator_filter]),
                W.HBox([self.version_filter, self.outcome_filter]),
                W.HBox([self.threshold, self.sort]),
                self.metrics,
                W.HBox([self.tab_title, self.tab_button]),
                self.status,
                self.error_box,
                W.HBox(
                    [self.previous_button, self.page_label, self.next_button],
                    layout=W.Layout(align_items="center"),
                ),
                self.grid,
            ]
        )
        self.add_class("lsf-review")
        for widget in (
            self.label_filter,
            self.annotator_filter,
            self.version_filter,
            self.outcome_filter,
            self.threshold,
            self.sort,
        ):
            widget.observe(self._on_change, names="value")
        self.previous_button.on_click(lambda _: self._guard(self.previous_page))
        self.next_button.on_click(lambda _: self._guard(self.next_page))
        self.tab_button.on_click(lambda _: self._guard(self.send_to_label_studio))

    # -- what the controls do ---------------------------------------------------------
    def _guard(self, job: Any) -> None:
        self.error = None
        self.error_box.value = ""
        try:
            job()
        except Exception as exc:  # shown in the panel: a widget callback has no caller
            self.error = exc
            self.error_box.value = f"<span style='color:#b00020'>{html.escape(_plain(exc))}</span>"

    def _on_change(self, change: dict[str, Any]) -> None:
        self.page = 0
        self._guard(self.refresh)

    def refresh(self) -> None:
        """Select the rows again from the controls, recompute the metrics, draw the page."""
        choice = self.choice
        self.rows = select(self.outcomes, choice)
        self.scores = metrics(self.outcomes, choice)
        self.metrics.value = metrics_html(self.scores, choice.threshold)
        if self.tab_title.value in ("", self._title):  # a title the user typed stays
            self.tab_title.value = self._default_title(choice)
        self._title = self._default_title(choice)
        self._draw_page()

    def next_page(self) -> None:
        """The next page of cards."""
        self.page += 1
        self._draw_page()

    def previous_page(self) -> None:
        """The previous page of cards."""
        self.page -= 1
        self._draw_page()

    def _draw_page(self) -> None:
        shown, self.page, pages = page_of(self.rows, self.page, self.page_size)
        self.page_rows = shown
        self.page_label.value = (
            f"page {self.page + 1} of {pages} · {len(self.rows):,} rows · "
            f"{len(self.task_ids):,} tasks"
        )
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1
        records = shown.to_dict("records")
        self._draw_images(records, self.frames)
        self.links = []
        cards = []
        for row in records:
            link = self._link(int(row["task_id"]))
            if link is not None:
                self.links.append(link)
            image = self._images[self._key(row)]
            cards.append(card_html(row, image, link, self.low_iou))  # type: ignore[arg-type]
        self.grid.value = grid_html(cards, self.card_width)

    # -- links and tabs ---------------------------------------------------------------
    def _base_url(self) -> str | None:
        if self.client is not None:
            return str(self.client.base_url)
        server = self._provenance("server") or os.environ.get("LABEL_STUDIO_URL")
        return str(server) if server else None

    def _provenance(self, key: str) -> Any:
        provenance = self.frames.provenance
        return None if provenance is None else provenance.get(key)

    def _link(self, task_id: int) -> str | None:
        base = self._base_url()
        if base is None or self.project is None:
            return None
        return task_link(base, int(self.project), task_id)

    def _default_title(self, choice: Choice) -> str:
        parts = [OUTCOMES.get(choice.outcome, "review")]
        parts += [v for v in (choice.label, choice.model_version, choice.annotator) if v]
        if choice.threshold > 0:
            parts.append(f"score ≥ {choice.threshold:.2f}")
        return ", ".join(parts)

    def send_to_label_studio(self) -> list[str]:
        """Make a Data Manager tab holding exactly the tasks of the selection (several
        tabs when the ids are too scattered for one); their URLs, also in ``tab_urls``."""
        if self.project is None:
            raise ConfigurationError(
                "these frames do not say which project they come from: pass project="
            )
        if not self.task_ids:
            raise ConfigurationError("the selection is empty: there is no task to send")
        title = self.tab_title.value.strip() or self._default_title(self.choice)
        self.tab_urls = review_tabs(
            int(self.project), self.task_ids, title=title, client=self.client
        )
        links = " ".join(
            f"<a href='{html.escape(u)}' target='_blank' rel='noopener'>{html.escape(u)}</a>"
            for u in self.tab_urls
        )
        self.status.value = f"{len(self.task_ids)} tasks sent to Label Studio: {links}"
        return self.tab_urls

    # -- images -----------------------------------------------------------------------
    @staticmethod
    def _key(row: dict[Any, Any]) -> tuple[Any, ...]:
        """A card image: its task, model version and the regions drawn in bold."""
        version = row["model_version"]
        version = None if version is None or version is pd.NA else str(version)
        marks = tuple(
            str(r) for r in (row["pred_region_id"], row["ann_region_id"]) if isinstance(r, str)
        )
        return (int(row["task_id"]), version, marks)

    def _draw_images(self, records: list[dict[Any, Any]], frames: Frames) -> None:
        """Draw the page's images not drawn yet, on a few threads (decoding and drawing
        release the GIL for most of their time)."""
        keys = list(dict.fromkeys(self._key(row) for row in records))
        for key in keys:
            if key in self._images:
                self._images.move_to_end(key)
        todo = [key for key in keys if key not in self._images]
        if todo:
            from ls_frames.drawing.lookup import lookup

            lookup(frames)  # the tables grouped by task once, before the threads read them

        def draw(key: tuple[Any, ...]) -> str:
            try:
                return image_uri(self._render(frames, *key))
            except LSFramesError as exc:  # one task without its image: said on its card
                return _placeholder(f"task {key[0]}: {_plain(exc)}", self.card_width)

        if len(todo) > 1 and self.workers > 1:
            with ThreadPoolExecutor(min(self.workers, len(todo))) as pool:
                drawn = list(pool.map(draw, todo))
        else:
            drawn = [draw(key) for key in todo]
        self._images.update(zip(todo, drawn, strict=True))
        while len(self._images) > max(_CACHE, len(keys)):
            self._images.popitem(last=False)

    def _render(
        self, frames: Frames, task_id: int, model_version: str | None, marks: tuple[str, ...]
    ) -> bytes:
        """The task drawn by :func:`~ls_frames.show` (every control of the reference
        annotation and of the row's model version, the row's regions in bold), as a JPEG
        ``card_width`` pixels wide."""
        from ls_frames.drawing import show

        reference = None if self.reference == "consensus" else self.reference
        picture = show(
            frames,
            task_id,
            media=self.media,
            reference=reference,
            model_version=model_version,
            highlight=marks or None,
            legend=False,  # the key is in the panel's header: a card is too small for it
            size=(self.card_width, self.card_width),  # lines and captions sized for the card
        )
        width = self.card_width
        height = max(1, round(picture.height * width / max(picture.width, 1)))
        if picture.width > width:
            picture = picture.resize((width, height), _bilinear())
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()


def _bilinear() -> Any:
    from ls_frames.drawing.extras import pillow

    return pillow().Image.Resampling.BILINEAR


def _placeholder(text: str, width: int) -> str:
    """A grey card image saying why the task could not be drawn."""
    height = width * 9 // 16
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
        f"<rect width='100%' height='100%' fill='#888'/><foreignObject x='8' y='8' "
        f"width='{width - 16}' height='{height - 16}'><div xmlns='http://www.w3.org/1999/xhtml' "
        f"style='color:#fff;font:12px sans-serif'>{html.escape(text)}</div></foreignObject></svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
