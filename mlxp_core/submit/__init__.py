"""The head side: sweep points -> submitted jobs.

`params` (the launcher's typed parameters, built once) -> `plan` (what every job of one
launch shares, and each job's `JobSpec`) -> `batch` (one job per point) or `arrays` (one
array for the sweep) or `local` (background processes) -> `waiting` (wait mode) ->
`report` (what is handed back: JobReturns, the mlxpsub report, the one summary).
`handoff` is the typed file `mlxpsub` hands to the launcher it runs.
"""
