"""fetch_media against what a real server cannot be made to do on demand: an older server
without ``/resolve/``, a storage proxy that caps ranges, connections cut halfway, stalls,
wrong checksums, redirects towards internal addresses. Label Studio is the fake
(``httpx.MockTransport``); the "other hosts" are real HTTP servers on 127.0.0.2."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import ls_frames
from ls_frames.exports.download import resume_validator, strong_last_modified
from ls_frames.media.cache import MediaCache, extension, identity
from ls_frames.media.fetch import expected_md5
from ls_frames.media.guard import HostGuard, Refused
from ls_frames.media.http import Hop, Hops
from tests.fake_label_studio import FakeLabelStudio, client_for
from tests.media_hosts import other_host

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def blob(n: int, seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tasks(*datas: dict[str, Any], project: int = 1) -> list[dict[str, Any]]:
    return [{"id": i + 1, "project": project, "data": d} for i, d in enumerate(datas)]


def fetch_with_failures(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``fetch_media`` where some files fail: it warns once, at the caller's line, with
    the numbers and reasons of its table."""
    with pytest.warns(ls_frames.PartialResultWarning) as caught:
        df = ls_frames.fetch_media(*args, **kwargs)
    assert len(caught) == 1 and caught[0].filename == __file__
    warning = caught[0].message
    assert isinstance(warning, ls_frames.PartialResultWarning)
    counts = df.attrs["media"]
    assert warning.failed == counts["failed"] > 0 and warning.reasons == counts["reasons"]
    assert sum(warning.reasons.values()) == warning.failed
    return df


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_release_before_1_20_is_asked_at_presign_and_its_failures_say_what_they_are(
    tmp_path: Path,
) -> None:
    fake = FakeLabelStudio()
    fake.old_server, fake.release = True, "1.13.1"
    a = blob(5000, 1)
    with other_host(files={"/bucket/a.png": a}) as bucket:
        fake.storage = {
            "s3://bucket/a.png": bucket.url("/bucket/a.png"),
            "s3://bucket/gone.png": bucket.url("/bucket/gone.png"),
            "s3://proxied/b.png": "data:image/png;base64,AAAA",
        }
        df = fetch_with_failures(
            tasks(
                {"image": "s3://bucket/a.png"},
                {"image": "s3://bucket/gone.png"},
                {"image": "s3://proxied/b.png"},
                {"image": "s3://nobody/c.png"},
            ),
            tmp_path,
            client=client_for(fake),
            allow_hosts=["127.0.0.2"],
            workers=1,
            progress=False,
        )
    assert Path(df["path"][0]).read_bytes() == a
    assert df["error"][1].startswith("HTTP 404")  # the bucket's 404, not Label Studio's
    assert "no storage proxy before 1.20" in df["error"][2]
    assert df["error"][3] == "no storage on the server resolves this URI"
    routes = [r.url.path.split("/")[3] for r in fake.requests if r.url.path.startswith("/tasks")]
    assert routes == ["presign"] * 4  # the release said which route: no miss at /resolve/


def test_older_server_resolves_through_presign_and_the_bucket_never_sees_the_key(
    tmp_path: Path,
) -> None:
    fake = FakeLabelStudio()
    fake.old_server = True
    a, b = blob(5000, 1), blob(7000, 2)
    with other_host(files={"/bucket/a.png": a, "/bucket/b.png": b}) as bucket:
        fake.storage = {
            "s3://bucket/a.png": bucket.url("/bucket/a.png"),
            "s3://bucket/b.png": bucket.url("/bucket/b.png"),
        }
        client = client_for(fake)
        df = fetch_with_failures(
            tasks(
                {"image": "s3://bucket/a.png"},
                {"image": "s3://bucket/b.png"},
                {"image": "s3://bucket/missing.png"},
            ),
            tmp_path,
            client=client,
            allow_hosts=["127.0.0.2"],
            workers=1,
            progress=False,
        )
        seen = list(bucket.seen)
    assert df["error"].tolist()[:2] == [pd_na(), pd_na()]
    assert df["error"][2] == "no storage on the server resolves this URI"
    assert [Path(p).read_bytes() for p in df["path"][:2]] == [a, b]
    assert df["sha256"].tolist()[:2] == [sha(a), sha(b)]
    assert df["bytes"].tolist()[:2] == [len(a), len(b)]
    routes = [r.url.path.split("/")[3] for r in fake.requests if r.url.path.startswith("/tasks")]
    assert routes == ["resolve", "presign", "presign", "presign"]  # switched after one miss
    assert seen and all("authorization" not in s.headers for s in seen)
    assert all(s.headers["host"] == f"127.0.0.2:{bucket.port}" for s in seen)


def pd_na() -> Any:
    import pandas as pd

    return pd.NA


def test_proxied_storage_with_capped_ranges_and_a_cut_is_complete_and_md5_checked(
    tmp_path: Path,
) -> None:
    fake = FakeLabelStudio()
    big = blob(300_000, 3)
    fake.storage = {"s3://bucket/big.bin": big}
    fake.proxy_range_cap = 64 * 1024
    fake.cuts = [100_000]
    client = client_for(fake)
    df = ls_frames.fetch_media(
        tasks({"video": "s3://bucket/big.bin"}),
        tmp_path,
        client=client,
        fields=["video"],
        progress=False,
    )
    assert df["error"].isna().all(), df["error"].tolist()
    assert Path(df["path"][0]).read_bytes() == big
    ranges = [r.headers.get("Range") for r in fake.requests if "resolve" in r.url.path]
    # a plain first request, cut at 100,000; then 64 KiB at a time until the end
    assert ranges[:3] == [None, "bytes=100000-", f"bytes={100_000 + 65536}-"]
    assert len(ranges) == 1 + -(-(len(big) - 100_000) // 65536)


def test_checksum_mismatch_keeps_nothing(tmp_path: Path) -> None:
    data = blob(4000, 4)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with other_host(files={"/x.bin": data}, content_md5={"/x.bin": wrong}) as host:
        df = fetch_with_failures(
            tasks({"f": host.url("/x.bin")}),
            tmp_path,
            fields=["f"],
            allow_hosts=["127.0.0.2"],
            progress=False,
        )
    assert df["error"][0] == "MD5 mismatch: the bytes received are not the source's"
    assert pd_is_na(df["path"][0])
    assert files_under(tmp_path) == []


def pd_is_na(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_bad_input_becomes_rows_and_the_run_goes_on(tmp_path: Path) -> None:
    fake = FakeLabelStudio()
    fake.uploads = {"/data/upload/1/ok.png": PNG}
    good = blob(3000, 5)
    with other_host(
        files={"/good.bin": good},
        login_pages={"/login.png"},
        stall={"/slow.png"},
        stall_seconds=1.5,
    ) as host:
        client = client_for(fake)
        data = {
            "image": [
                "/data/upload/1/ok.png",
                "/data/upload/1/gone.png",
                host.url("/login.png"),
                host.url("/slow.png"),
                host.url("/nothing.png"),
                host.url("/good.bin"),
                "file:///etc/passwd",
                "ftp://example.org/x.png",
                "s3://nobucket/x.png",
                "http://169.254.169.254/latest/meta-data/iam/",
                "http://[fd00:ec2::254]/latest/meta-data/",
                "/etc/passwd",
            ]
        }
        df = fetch_with_failures(
            tasks(data),
            tmp_path,
            client=client,
            workers=4,
            fields=["image"],
            allow_hosts=["127.0.0.2"],
            http_timeout=0.3,
            progress=False,
        )
    errors = df["error"].tolist()
    assert pd_is_na(errors[0]) and pd_is_na(errors[5])
    assert errors[1].startswith("HTTP 500")
    assert errors[2] == "an HTML page ('Sign in') instead of the file (a login page?)"
    assert errors[3] == "timeout"
    assert errors[4] == "HTTP 404: not found"  # with the server's own words
    assert errors[6] == "refused: scheme 'file' is not fetched"
    assert errors[7] == "refused: scheme 'ftp' is not fetched"
    assert errors[8] == "no storage on the server resolves this URI"
    assert "link-local / cloud metadata" in errors[9]
    assert "link-local / cloud metadata" in errors[10]
    assert errors[11] == "refused: a relative path Label Studio does not serve"
    assert df["position"].tolist() == list(range(12))
    # only the two good files exist (and their sidecars); no part file is left
    names = {p.name for p in files_under(tmp_path)}
    assert len(names) == 4 and not any(n.endswith(".part") for n in names)
    assert Path(df["path"][0]).read_bytes() == PNG
    assert Path(df["path"][5]).read_bytes() == good


def test_strict_raises_a_media_error_listing_the_failures(tmp_path: Path) -> None:
    fake = FakeLabelStudio()
    fake.uploads = {"/data/upload/1/ok.png": PNG}
    client = client_for(fake)
    data = tasks(
        {"image": "/data/upload/1/ok.png"},
        {"image": "/data/upload/1/gone.png"},
        {"image": "file:///etc/shadow"},
    )
    with pytest.raises(ls_frames.MediaError) as caught:
        ls_frames.fetch_media(data, tmp_path, client=client, strict=True, progress=False)
    err = caught.value
    assert isinstance(err, ls_frames.LSFramesError)
    assert [(f[0], f[3]) for f in err.failures] == [
        (2, "/data/upload/1/gone.png"),
        (3, "file:///etc/shadow"),
    ]
    assert "2 media reference(s) could not be fetched" in str(err)
    assert "task 3, image[0] 'file:///etc/shadow': refused" in str(err)
    assert len([p for p in files_under(tmp_path) if p.suffix == ".png"]) == 1  # kept


def test_second_run_asks_nothing_and_refresh_fetches_only_what_changed(
    tmp_path: Path,
) -> None:
    fake = FakeLabelStudio()
    fake.uploads = {"/data/upload/1/a.png": PNG}
    one, two = blob(2000, 6), blob(2500, 7)
    with other_host(files={"/one.bin": one, "/two.bin": two}) as host:
        client = client_for(fake)
        data = tasks(
            {"image": "/data/upload/1/a.png"},
            {"image": host.url("/one.bin")},
            {"image": host.url("/two.bin")},
            {"image": host.url("/one.bin")},
        )
        kw: dict[str, Any] = dict(
            client=client, allow_hosts=["127.0.0.2"], progress=False, fields=["image"]
        )
        first = ls_frames.fetch_media(data, tmp_path, **kw)
        assert first.attrs["media"]["downloaded"] == 3  # /one.bin twice, fetched once
        assert first["path"][1] == first["path"][3]
        n_fake, n_host = len(fake.requests), len(host.seen)
        mtimes = [os.stat(p).st_mtime_ns for p in first["path"]]

        again = ls_frames.fetch_media(data, tmp_path, **kw)
        assert (len(fake.requests), len(host.seen)) == (n_fake, n_host)
        assert again.attrs["media"]["cached"] == 3
        assert again.drop(columns=[]).equals(first)

        changed = blob(2600, 8)
        host.files["/two.bin"] = changed
        refreshed = ls_frames.fetch_media(data, tmp_path, refresh=True, **kw)
        new = host.seen[n_host:]
    stats = refreshed.attrs["media"]
    # the upload has no validators: fetched again and found the same; /one.bin answers
    # 304 to If-None-Match; /two.bin changed
    assert (stats["unchanged"], stats["not_modified"], stats["downloaded"]) == (1, 1, 1)
    assert {s.path: s.headers.get("if-none-match") is not None for s in new} == {
        "/one.bin": True,
        "/two.bin": True,
    }
    assert Path(refreshed["path"][2]).read_bytes() == changed
    assert refreshed["sha256"][2] == sha(changed)
    assert os.stat(refreshed["path"][0]).st_mtime_ns == mtimes[0]  # not rewritten
    assert os.stat(refreshed["path"][1]).st_mtime_ns == mtimes[1]


def test_redirects_are_checked_at_every_hop_and_never_carry_the_key(tmp_path: Path) -> None:
    fake = FakeLabelStudio()
    fake.uploads = {"/data/upload/1/a.png": PNG}
    with other_host(
        redirects={
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-other-private": "http://127.0.0.3:9/x.png",
            "/to-label-studio": "https://ls.test/data/upload/1/a.png",
            "/loop": "/loop",
        }
    ) as host:
        client = client_for(fake)
        data = tasks(
            {
                "f": [
                    host.url("/to-metadata"),
                    host.url("/to-other-private"),
                    host.url("/to-label-studio"),
                    host.url("/loop"),
                ]
            }
        )
        df = fetch_with_failures(
            data, tmp_path, client=client, fields=["f"], allow_hosts=["127.0.0.2"], progress=False
        )
    errors = df["error"].tolist()
    assert "link-local / cloud metadata" in errors[0]
    assert "127.0.0.3 is a private address and not the Label Studio host" in errors[1]
    # back to Label Studio's origin after a foreign hop: sent without the client (so
    # without the key), and ls.test is no real host name
    assert errors[2].startswith("host ls.test does not resolve")
    assert fake.requests == []
    assert errors[3] == "too many redirects"


def test_plain_urls_on_other_hosts_are_refused_unless_allowed(tmp_path: Path) -> None:
    with other_host(files={"/a.bin": b"abc"}) as host:
        data = tasks({"f": host.url("/a.bin")})
        refused = fetch_with_failures(data, tmp_path, fields=["f"], progress=False)
        assert host.seen == []
        allowed = ls_frames.fetch_media(
            data, tmp_path, fields=["f"], progress=False, allow_hosts=["127.0.0.0/30"]
        )
    assert "private address" in refused["error"][0]
    assert pd_is_na(allowed["error"][0]) and allowed["bytes"][0] == 3


def test_label_studio_under_a_sub_path_and_relative_paths(tmp_path: Path) -> None:
    fake = FakeLabelStudio(prefix="/ls")
    fake.uploads = {"/data/upload/1/a.png": PNG}
    client = client_for(fake, url="https://ls.test/ls")
    df = ls_frames.fetch_media(
        tasks({"image": "/data/upload/1/a.png"}), tmp_path, client=client, progress=False
    )
    assert Path(df["path"][0]).read_bytes() == PNG
    assert fake.requests[0].url.path == "/ls/data/upload/1/a.png"
    assert fake.requests[0].headers["Authorization"].startswith("Token ")


def test_no_client_for_label_studio_references_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(ls_frames.ConfigurationError, match=r"/data/upload/1/a\.png"):
        ls_frames.fetch_media(tasks({"image": "/data/upload/1/a.png"}), tmp_path, progress=False)


def test_a_cache_folder_that_leads_outside_is_refused(tmp_path: Path) -> None:
    cache_dir, outside = tmp_path / "cache", tmp_path / "elsewhere"
    outside.mkdir()
    cache_dir.mkdir()
    uri = "https://example.org/x.png"
    key = identity(uri, None, None)  # a plain URL is itself, whatever the project
    (cache_dir / key[:2]).symlink_to(outside)
    df = fetch_with_failures(tasks({"f": uri}), cache_dir, fields=["f"], progress=False)
    assert "leads outside the cache directory" in df["error"][0]
    assert list(outside.iterdir()) == []
    with pytest.raises(ValueError):
        MediaCache(cache_dir).entry("../../etc", "")


def test_the_guard_pins_the_checked_address(tmp_path: Path) -> None:
    answers = {
        "files.test": ["127.0.0.2"],
        "meta.test": ["10.0.0.1", "169.254.169.254"],
        "v6.test": ["fd00:ec2::254"],
        "intranet.test": ["10.1.2.3"],
        "public.test": ["93.184.216.34"],
    }

    asked: list[str] = []

    def resolve(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        if host not in answers:
            raise OSError("no such host")
        return [(0, 0, 0, "", (a, port)) for a in answers[host]]

    guard = HostGuard("ls.internal", ["files.test", "10.1.0.0/16"], resolve=resolve)
    with pytest.raises(Refused, match="link-local"):
        guard.pin(httpx.URL("http://meta.test/"))  # any forbidden address refuses the host
    with pytest.raises(Refused, match="link-local"):
        guard.pin(httpx.URL("http://v6.test/"))
    with pytest.raises(Refused, match="link-local"):
        HostGuard(allow_hosts=["169.254.0.0/16"]).pin(httpx.URL("http://[::ffff:169.254.169.254]/"))
    with pytest.raises(Refused, match="does not resolve"):
        guard.pin(httpx.URL("http://nowhere.test/"))
    assert guard.pin(httpx.URL("http://intranet.test/")).url.host == "10.1.2.3"
    assert guard.pin(httpx.URL("http://intranet.test/b")).url.host == "10.1.2.3"
    assert asked.count("intranet.test") == 1  # one answer serves the run's requests
    pinned = guard.pin(httpx.URL("https://public.test:8443/a?b=1"))
    assert (str(pinned.url), pinned.host, pinned.sni) == (
        "https://93.184.216.34:8443/a?b=1",
        "public.test:8443",
        "public.test",
    )
    # "files.test" exists in no DNS: the request can only have gone to the pinned address,
    # and the host still sees the name it was asked for
    with other_host(files={"/f.bin": b"pinned"}) as host:
        hops = Hops(None, guard)
        try:
            with hops.open(
                Hop(httpx.URL(f"http://files.test:{host.port}/f.bin"), False), {}
            ) as response:
                body = response.read()
        finally:
            hops.close()
        assert body == b"pinned"
        assert host.seen[0].headers["host"] == f"files.test:{host.port}"


def test_expected_md5_sources() -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    b64 = base64.b64encode(bytes.fromhex(md5)).decode()
    assert expected_md5(httpx.Headers({"Content-MD5": b64}), storage=False) == md5
    assert (
        expected_md5(httpx.Headers({"x-goog-hash": f"crc32c=AAAA==,md5={b64}"}), storage=True)
        == md5
    )
    assert expected_md5(httpx.Headers({"ETag": f'"{md5}"'}), storage=True) == md5
    assert expected_md5(httpx.Headers({"ETag": f'"11{md5}"'}), storage=True) == md5
    assert expected_md5(httpx.Headers({"ETag": f'"{md5}"'}), storage=False) is None
    assert expected_md5(httpx.Headers({"ETag": f'"{md5}-3"'}), storage=True) is None
    assert expected_md5(httpx.Headers({"ETag": f'W/"{md5}"'}), storage=True) is None


def test_cache_names_keep_a_safe_extension() -> None:
    assert extension("/data/local-files/?d=dir/clip.MP4") == ".mp4"
    assert extension("s3://b/k/photo.jpeg") == ".jpeg"
    assert extension("https://x.org/a/b") == ""
    assert extension("https://x.org/a/evil.png%2F..%2F..") == ""
    assert identity("u", "https://a/", 1) != identity("u", "https://b/", 1)
    assert identity("u", "https://a/", 1) != identity("u", "https://a/", 2)


def test_workers_bound_the_downloads_at_once_and_bars_count_files_and_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {f"/f{i}.bin": blob(1000 + i, i) for i in range(8)}
    with other_host(files=files, stall=set(files), stall_seconds=0.3) as host:
        data = tasks(*({"f": host.url(p)} for p in files))
        df = ls_frames.fetch_media(
            data, tmp_path, fields=["f"], workers=3, progress=True, allow_hosts=["127.0.0.2"]
        )
        peak = host.peak
    assert df["error"].isna().all()
    assert peak == 3
    err = capsys.readouterr().err
    assert "media files" in err and "media bytes" in err


def test_a_download_cut_short_is_resumed_by_the_next_run(tmp_path: Path) -> None:
    from ls_frames.exports.download import MAX_RESUMES

    data, changed = blob(50_000, 10), blob(50_000, 11)
    # every answer of the first run breaks at byte 20,000 (the resumes bring nothing)
    with other_host(
        files={"/v.bin": data, "/w.bin": data},
        cuts={"/v.bin": [20_000] * (MAX_RESUMES + 1), "/w.bin": [20_000] * (MAX_RESUMES + 1)},
    ) as host:
        refs = tasks({"f": [host.url("/v.bin"), host.url("/w.bin")]})
        client = client_for(FakeLabelStudio())  # its retry policy never sleeps
        kw: dict[str, Any] = dict(
            fields=["f"], allow_hosts=["127.0.0.2"], progress=False, client=client
        )
        first = fetch_with_failures(refs, tmp_path, **kw)
        assert first["error"].tolist() == ["connection broke too often (at byte 20000)"] * 2
        partials = sorted(p.name for p in files_under(tmp_path) if p.name.endswith(".partial"))
        assert len(partials) == 2
        assert not any(p.name.endswith(".part") for p in files_under(tmp_path))
        host.files["/w.bin"] = changed  # w changes in between: its partial is worthless
        n = len(host.seen)
        second = ls_frames.fetch_media(refs, tmp_path, **kw)
        asked = {s.path: (s.headers.get("range"), s.headers.get("if-range")) for s in host.seen[n:]}
    assert second["error"].isna().all()
    assert Path(second["path"][0]).read_bytes() == data
    assert Path(second["path"][1]).read_bytes() == changed
    assert second["sha256"].tolist() == [sha(data), sha(changed)]
    etag = f'"{sha(data)[:16]}"'
    assert asked == {"/v.bin": ("bytes=20000-", etag), "/w.bin": ("bytes=20000-", etag)}
    # v: only the rest came over the wire; w: the whole of the new version
    assert second.attrs["media"]["bytes_downloaded"] == (len(data) - 20_000) + len(changed)
    assert not any(
        p.name.endswith((".partial", ".partial.json", ".part")) for p in files_under(tmp_path)
    )


@pytest.mark.parametrize(
    "uri",
    ["gs://bucket/k/a.png", "azure-blob://container/k/a.png", "azure-spi://container/k/a.png"],
)
def test_every_storage_scheme_is_resolved_by_the_server(tmp_path: Path, uri: str) -> None:
    fake = FakeLabelStudio()
    fake.storage = {uri: PNG}
    df = ls_frames.fetch_media(
        tasks({"image": uri}), tmp_path, client=client_for(fake), progress=False
    )
    assert Path(df["path"][0]).read_bytes() == PNG
    # the release (/api/version) picks the route; then the storage URI is resolved
    asked = next(r for r in fake.requests if r.url.path != "/api/version")
    assert asked.url.path == "/tasks/1/resolve/"
    assert base64.urlsafe_b64decode(asked.url.params["fileuri"]).decode() == uri


def test_no_references_give_an_empty_typed_table(tmp_path: Path) -> None:
    df = ls_frames.fetch_media(tasks({"text": "plain words"}), tmp_path, progress=False)
    assert df.empty and list(df.columns) == [f.name for f in ls_frames.media.MEDIA_SCHEMA]
    assert str(df["bytes"].dtype) == "Int64" and str(df["error"].dtype) == "string"


def test_a_redirect_to_no_url_is_a_row(tmp_path: Path) -> None:
    with other_host(redirects={"/bad": "http://[::1"}) as host:
        df = fetch_with_failures(
            tasks({"f": host.url("/bad")}),
            tmp_path,
            fields=["f"],
            allow_hosts=["127.0.0.2"],
            progress=False,
        )
    assert df["error"].notna().all() and pd_is_na(df["path"][0])


def test_public_urls_share_a_file_across_projects(tmp_path: Path) -> None:
    with other_host(files={"/shared.bin": b"same"}) as host:
        both = tasks({"f": host.url("/shared.bin")}, project=1) + tasks(
            {"f": host.url("/shared.bin")}, project=2
        )
        df = ls_frames.fetch_media(
            both, tmp_path, fields=["f"], allow_hosts=["127.0.0.2"], progress=False
        )
        assert len(host.seen) == 1
    assert df["path"][0] == df["path"][1]


def test_other_hosts_are_retried_on_the_clients_rules(tmp_path: Path) -> None:
    client = client_for(FakeLabelStudio())
    with other_host(
        files={"/a.bin": b"a", "/b.bin": b"b"}, fail={"/a.bin": [503, 502], "/b.bin": [500]}
    ) as host:
        df = fetch_with_failures(
            tasks({"f": [host.url("/a.bin"), host.url("/b.bin")]}),
            tmp_path,
            client=client,
            fields=["f"],
            allow_hosts=["127.0.0.2"],
            progress=False,
        )
        asked = [s.path for s in host.seen]
    assert pd_is_na(df["error"][0]) and Path(df["path"][0]).read_bytes() == b"a"
    assert df["error"][1] == "HTTP 500: busy"  # not a status worth repeating
    assert sorted(asked) == ["/a.bin"] * 3 + ["/b.bin"]
    assert client.sleeps == [0.0, 0.0]  # Retry-After: 0, through the client's policy


def test_a_tasks_dataframe_is_read_too(tmp_path: Path) -> None:
    import pandas as pd

    fake = FakeLabelStudio()
    fake.uploads = {"/data/upload/1/a.png": PNG}
    frame = pd.DataFrame(
        {
            "task_id": pd.array([7, 8], dtype="Int64"),
            "project_id": pd.array([1, 1], dtype="Int64"),
            "data.image": pd.array(["/data/upload/1/a.png", None], dtype="string"),
            "data.pages": pd.array([None, '["/data/upload/1/a.png"]'], dtype="string"),
        }
    )
    df = ls_frames.fetch_media(frame, tmp_path, client=client_for(fake), progress=False)
    assert list(zip(df["task_id"], df["field"], df["position"], strict=True)) == [
        (7, "image", 0),
        (8, "pages", 0),
    ]
    assert df["error"].isna().all() and df["path"][0] == df["path"][1]


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    import shutil
    import subprocess

    from tests.needs import missing

    if shutil.which("openssl") is None:
        missing("openssl (to make a test certificate)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_a_pinned_https_request_still_checks_the_certificate_against_the_name(
    tmp_path: Path,
) -> None:
    """Pinning connects to the checked address but keeps the TLS server name, so the
    certificate is verified for the host the URL names (not for the address)."""
    import ssl

    cert, key = _certificate(tmp_path, "files.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))

    def resolve(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
        return [(0, 0, 0, "", ("127.0.0.2", port))]

    guard = HostGuard(allow_hosts=["127.0.0.2"], resolve=resolve)
    with other_host(tls=server_tls, files={"/f.bin": b"over tls"}) as host:
        sleeps: list[float] = []
        hops = Hops(None, guard, verify=trust, retry=ls_frames.RetryPolicy(sleep=sleeps.append))
        try:
            with hops.open(
                Hop(httpx.URL(f"https://files.test:{host.port}/f.bin"), False), {}
            ) as response:
                assert response.read() == b"over tls"
            with (
                pytest.raises(
                    ls_frames.errors.TransportError,
                    match=r"cannot reach https://other\.test:\d+: the server's TLS certificate is "
                    "not trusted",
                ),
                hops.open(Hop(httpx.URL(f"https://other.test:{host.port}/f.bin"), False), {}),
            ):
                pass  # same address, a name the certificate does not cover
            assert sleeps == []  # a certificate does not change on a retry: failed at once
        finally:
            hops.close()


def test_inputs_it_cannot_read_are_named(tmp_path: Path) -> None:
    import pyarrow as pa

    with pytest.raises(ValueError, match="tasks table"):
        ls_frames.fetch_media(ls_frames.Frames({"regions": pa.table({"a": [1]})}), tmp_path)
    with pytest.raises(TypeError, match="fetch_media reads"):
        ls_frames.fetch_media(42, tmp_path)  # type: ignore[arg-type]
    # a single field name is one field, not its letters
    df = fetch_with_failures(
        tasks({"image": "file:///x", "i": "file:///y"}), tmp_path, fields="image", progress=False
    )
    assert df["field"].tolist() == ["image"]


def test_an_html_file_is_a_file_when_its_name_says_so(tmp_path: Path) -> None:
    page = b"<html><head><title>Sign in</title></head><body>login</body></html>"
    with other_host(login_pages={"/doc.html", "/doc.png"}) as host:
        df = fetch_with_failures(
            tasks({"f": [host.url("/doc.html"), host.url("/doc.png")]}),
            tmp_path,
            fields=["f"],
            allow_hosts=["127.0.0.2"],
            progress=False,
        )
    assert Path(df["path"][0]).read_bytes() == page
    assert df["error"][1].startswith("an HTML page")


def test_a_last_modified_in_the_second_it_was_served_is_no_validator() -> None:
    """A file rewritten in the second it was served keeps its Last-Modified: a later
    If-Modified-Since (or If-Range) with that date would take the new file for the old one
    (Django's file serving answers 304 so; seen with local files on Label Studio 1.13.1).
    Only a date at least a second before the answer's Date is kept (RFC 9110, 8.8.2.2)."""
    same = "Tue, 01 Dec 2026 22:00:05 GMT"
    later = "Tue, 01 Dec 2026 22:00:06 GMT"
    weak = httpx.Headers({"Last-Modified": same, "Date": same})
    strong = httpx.Headers({"Last-Modified": same, "Date": later})
    assert strong_last_modified(weak) is None
    assert strong_last_modified(strong) == same
    assert strong_last_modified(httpx.Headers({"Last-Modified": "yesterday"})) is None
    assert strong_last_modified(httpx.Headers({})) is None
    # If-Range: a strong ETag first, else only a strong date
    assert resume_validator(weak) is None
    assert resume_validator(strong) == same
    assert resume_validator(httpx.Headers({"ETag": '"v1"', **weak})) == '"v1"'
