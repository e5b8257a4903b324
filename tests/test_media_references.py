"""Which data values are media references (pure: no server, no HTTP)."""

from __future__ import annotations

import pytest

from ls_frames.media.references import (
    canonical,
    classify,
    iter_references,
    looks_like_reference,
)
from ls_frames.reading import ObjectTag, parse_label_config

CONFIG = """
<View>
  <Header value="$title"/>
  <Image name="img" value="$image"/>
  <Image name="gallery" valueList="$images"/>
  <Audio name="aud" value="$audio"/>
  <Text name="txt" value="$text"/>
  <HyperText name="page" value="$html" valueType="url"/>
  <RectangleLabels name="box" toName="img"><Label value="cat"/></RectangleLabels>
  <Choices name="mood" toName="txt"><Choice value="ok"/></Choices>
</View>
"""


def test_object_tags_are_parsed_with_their_fields() -> None:
    config = parse_label_config(CONFIG)
    assert config.objects == (
        ObjectTag("img", "image", "image"),
        ObjectTag("gallery", "image", "images", is_list=True),
        ObjectTag("aud", "audio", "audio"),
        ObjectTag("txt", "text", "text"),
        ObjectTag("page", "hypertext", "html", value_type="url"),
    )
    assert [c.name for c in config.controls] == ["box", "mood"]


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("/data/upload/3/ab12-cat.png", "upload"),
        ("/data/local-files/?d=imgs/cat.png", "local"),
        ("/tasks/7/resolve/?fileuri=czM6Ly9i", "served"),
        ("/storage-data/uploaded/?filepath=upload/1/x.png", "served"),
        ("s3://bucket/a/b.png", "storage"),
        ("gs://bucket/b.png", "storage"),
        ("azure-blob://container/b.png", "storage"),
        ("https://example.org/x.png", "url"),
        ("HTTP://example.org/x.png", "url"),
        ("file:///etc/passwd", "refused"),
        ("data:image/png;base64,AAAA", "refused"),
        ("ftp://example.org/x.png", "refused"),
        ("/etc/passwd", "refused"),
        ("images/cat.png", "refused"),
    ],
)
def test_classify(uri: str, kind: str) -> None:
    assert classify(uri) == kind


def test_config_fields_lists_and_text_only_when_a_url() -> None:
    config = parse_label_config(CONFIG)
    data = {
        "title": "https://example.org/not-an-object-value",
        "image": "s3://b/one.png",
        "images": ["/data/upload/1/a.png", None, "https://example.org/c.png"],
        "audio": "file:///etc/passwd",  # a media tag's value is reported, to be refused
        "text": "The quick brown fox",
        "html": "https://example.org/page.html",
        "other": "https://example.org/not-in-the-config.png",
    }
    refs = list(iter_references([(5, 2, data)], config=config))
    got = [(r.field, r.position, r.uri) for r in refs]
    assert got == [
        ("image", 0, "s3://b/one.png"),
        ("images", 0, "/data/upload/1/a.png"),
        ("images", 2, "https://example.org/c.png"),
        ("audio", 0, "file:///etc/passwd"),
        ("html", 0, "https://example.org/page.html"),
    ]
    assert {(r.task_id, r.project_id) for r in refs} == {(5, 2)}
    assert [r.accept_html for r in refs] == [False, False, False, False, True]
    # The same key holding a URL in another task is a reference there.
    refs = list(iter_references([(6, 2, {"text": "https://example.org/t.txt"})], config=config))
    assert [(r.field, r.uri) for r in refs] == [("text", "https://example.org/t.txt")]


def test_without_a_config_values_that_look_like_references() -> None:
    data = {
        "photo": "gs://bucket/p.jpg",
        "caption": "a photo of https://example.org",
        "pages": ["https://example.org/1.png", "https://example.org/2.png"],
        "count": 3,
        "local": "/data/local-files/?d=x/y.wav",
        "path": "relative/file.png",
    }
    refs = list(iter_references([(1, None, data)]))
    assert [(r.field, r.position) for r in refs] == [
        ("photo", 0),
        ("pages", 0),
        ("pages", 1),
        ("local", 0),
    ]


def test_explicit_fields_take_every_string() -> None:
    data = {"a": "relative/file.png", "b": "https://example.org/x", "c": ["x", 1, "y"]}
    refs = list(iter_references([(1, 1, data)], fields=["a", "c", "missing"]))
    assert [(r.field, r.position, r.uri) for r in refs] == [
        ("a", 0, "relative/file.png"),
        ("c", 0, "x"),
        ("c", 2, "y"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://x.org/a b.png", False),
        ("s3://b/k", True),
        ("", False),
        (None, False),
        ("/data/upload/1/x.png", True),
        ("mailto:someone", False),
    ],
)
def test_looks_like_reference(value: object, expected: bool) -> None:
    assert looks_like_reference(value) is expected


def test_task_api_links_name_their_storage_uri() -> None:
    link = "/tasks/7/resolve/?fileuri=czM6Ly9idWNrZXQvYS9iLnBuZw"  # no padding
    assert canonical(link) == "s3://bucket/a/b.png"
    assert (
        canonical("/tasks/7/presign/?fileuri=czM6Ly9idWNrZXQvYS9iLnBuZw==") == "s3://bucket/a/b.png"
    )
    assert (
        canonical("/tasks/7/resolve/?fileuri=bm90LWEtdXJp")
        == "/tasks/7/resolve/?fileuri=bm90LWEtdXJp"
    )  # decodes to no storage URI: kept
    assert canonical("/data/upload/1/x.png") == "/data/upload/1/x.png"
