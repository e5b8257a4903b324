"""Front ends over the library's functions: the command line (:mod:`ls_frames.frontends.cli`)
and the notebook panel (:mod:`ls_frames.frontends.widgets`). Neither holds export logic of
its own, and neither imports the other."""
