"""Task media: every file a project's tasks point to, fetched into a local cache.

A layer above the tables (it reads them) that does its own HTTP through the exports
client: :mod:`~ls_frames.media.references` finds and classifies the references (pure),
:mod:`~ls_frames.media.resolve` says where each kind is fetched from,
:mod:`~ls_frames.media.guard` keeps requests away from internal addresses,
:mod:`~ls_frames.media.http` follows the hops with or without the key,
:mod:`~ls_frames.media.cache` keeps the files honest, :mod:`~ls_frames.media.fetch` does
one file, :mod:`~ls_frames.media.api` runs them all and :mod:`~ls_frames.media.report`
says how it went (the counts, one warning when files failed).
"""

from ls_frames.media.api import MEDIA_SCHEMA, fetch_media

__all__ = ["MEDIA_SCHEMA", "fetch_media"]
