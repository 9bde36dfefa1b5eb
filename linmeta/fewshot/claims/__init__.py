"""The classification claims study: the grid of training runs and their measurements
(:mod:`.grid`) and the report that judges each claim from the point files (:mod:`.report`)."""
