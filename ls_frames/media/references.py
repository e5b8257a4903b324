"""Which task data values are media references, and what kind each one is.

Pure: task data in, :class:`Reference` records out (no HTTP, no pandas).

The data keys to read come from the label config's object tags (``<Image value="$image">``,
``valueList="$images"``, audio, video, PDF, ...): a media tag's string values are all
references (a value that cannot be fetched becomes a refused row, never a silent drop);
a text-like tag's value (``Text``, ``HyperText``, ``Paragraphs``, ...) only when it looks
like a URL or a storage URI, since it usually holds the text itself. Without a config,
every value that looks like a URL or a storage URI is taken. A list gives one reference per
item, numbered by ``position``; a single value has position 0.

Kinds (:func:`classify`):

============  ===========================================================  ============
kind          looks like                                                   fetched from
============  ===========================================================  ============
``upload``    ``/data/upload/<project>/<name>``                            Label Studio
``local``     ``/data/local-files/?d=<path>``                              Label Studio
``served``    another path Label Studio serves (``/storage-data/...``,     Label Studio
              ``/tasks/<id>/resolve/?fileuri=...`` links of the task API)
``storage``   ``s3://``, ``gs://``, ``azure-blob://``, ``azure-spi://``    resolved by
                                                                           Label Studio
``url``       ``http://`` / ``https://``                                   that host
``refused``   any other scheme (``file://``, ``data:``, ``ftp://``), a     never
              relative path Label Studio does not serve
============  ===========================================================  ============
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ls_frames.reading import LabelConfig

__all__ = [
    "MEDIA_TAGS",
    "STORAGE_SCHEMES",
    "Reference",
    "canonical",
    "classify",
    "iter_references",
    "looks_like_reference",
    "media_fields",
    "scheme_of",
    "task_data",
]

#: Object tags whose value is always a file.
MEDIA_TAGS = frozenset({"image", "audio", "audioplus", "video", "pdf", "timeseries"})
#: URI schemes of the cloud storages Label Studio resolves (Community and Enterprise).
STORAGE_SCHEMES = frozenset({"s3", "gs", "azure-blob", "azure-spi"})
#: Path prefixes Label Studio serves to an authenticated user.
SERVED_PREFIXES = ("/data/upload/", "/data/local-files/", "/storage-data/", "/tasks/", "/projects/")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_RESOLVE_LINK = re.compile(r"^/(tasks|projects)/\d+/(resolve|presign)/?\?")


@dataclass(frozen=True)
class Reference:
    """One media reference: a task's data key (and list position) and the value in it."""

    task_id: int | None
    project_id: int | None
    field: str
    position: int
    uri: str
    accept_html: bool = False  # an HTML page is the expected content (a HyperText tag)


def scheme_of(value: str) -> str | None:
    """The URI scheme in lower case (``s3``, ``https``), or ``None`` for a bare path."""
    match = _SCHEME.match(value)
    return match.group(1).lower() if match else None


def classify(uri: str) -> str:
    """The kind of a reference: ``upload``, ``local``, ``served``, ``storage``, ``url`` or
    ``refused`` (see the module docstring)."""
    value = uri.strip()
    scheme = scheme_of(value)
    if scheme in ("http", "https"):
        return "url"
    if scheme in STORAGE_SCHEMES:
        return "storage"
    if scheme is not None:
        return "refused"
    if value.startswith("/data/upload/"):
        return "upload"
    if value.startswith("/data/local-files/"):
        return "local"
    if value.startswith("/storage-data/") or _RESOLVE_LINK.match(value):
        return "served"
    return "refused"


def canonical(uri: str) -> str:
    """The storage URI behind a task-API link (``/tasks/7/resolve/?fileuri=<base64url>``
    -> ``s3://bucket/key``), so both shapes share one cache entry; else ``uri`` itself."""
    value = uri.strip()
    if not _RESOLVE_LINK.match(value):
        return value
    raw = (parse_qs(urlsplit(value).query).get("fileuri") or [""])[0]
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        decoded = unquote(raw)
    return decoded if scheme_of(decoded) in STORAGE_SCHEMES else value


def looks_like_reference(value: Any) -> bool:
    """Whether a data value looks like a file reference: a URL, a URI with a scheme, or a
    path Label Studio serves."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not text or any(ch.isspace() for ch in text):
        return False
    if text.startswith(SERVED_PREFIXES):
        return True
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://\S+$", text))


def media_fields(config: LabelConfig | None) -> dict[str, str]:
    """The data keys the config's object tags read, mapped to the tag type (the first tag
    met wins when two read the same key)."""
    fields: dict[str, str] = {}
    for obj in config.objects if config is not None else ():
        fields.setdefault(obj.field, obj.type)
    return fields


def _items(value: Any) -> list[tuple[int, Any]]:
    if isinstance(value, list):
        return list(enumerate(value))
    return [(0, value)]


def _take(tag: str | None, value: Any, explicit: bool) -> bool:
    """Whether one item of a chosen key is a reference to report."""
    if not isinstance(value, str) or not value.strip():
        return False
    if explicit or tag in MEDIA_TAGS:
        return True
    # A text-like tag, or no config at all: only values that look like references.
    return looks_like_reference(value)


def iter_references(
    tasks: Iterable[tuple[int | None, int | None, Mapping[str, Any]]],
    *,
    config: LabelConfig | None = None,
    fields: Sequence[str] | None = None,
) -> Iterator[Reference]:
    """The references in ``(task_id, project_id, data)`` triples.

    ``fields`` names the data keys to read (every string value in them is a reference);
    by default the keys the config's object tags read, else every key whose value looks
    like a reference.
    """
    tags = media_fields(config)
    explicit = fields is not None
    for task_id, project_id, data in tasks:
        if not isinstance(data, Mapping):
            continue
        keys: Iterable[str] = fields if fields is not None else (tags or data.keys())
        for key in keys:
            if key not in data:
                continue
            tag = tags.get(key)
            for position, item in _items(data[key]):
                if _take(tag, item, explicit):
                    yield Reference(
                        task_id,
                        project_id,
                        key,
                        position,
                        item,
                        accept_html=tag in ("hypertext", "text", "paragraphs"),
                    )


def task_data(raw: Any) -> Mapping[str, Any]:
    """A task's ``data`` from the ``data_json`` text of the tasks table (``{}`` if none)."""
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
