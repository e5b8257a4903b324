"""Writing back: region rows into Label Studio result lists, checked against the config.

- :func:`to_results` (:mod:`.results`): the inverse of flattening, region and relation
  rows into one result list per annotation, prediction or draft;
- :func:`check_results` (:mod:`.checks`): every item against the project's label config
  and the known tasks, before anything is sent.

Pure: tables in, tables out, no HTTP (the network half sends what these return).
"""

from ls_frames.writing.checks import check_results
from ls_frames.writing.results import to_results

__all__ = ["check_results", "to_results"]
