"""The run directory contract (docs/run_directory.md): layout, atomic files, info.yaml.

`info` owns `metadata/info.yaml` (statuses and every write of it), `layout` the directory
tree and id allocation, `atomic` crash-safe file writes, `yamlio` YAML I/O and `facts` what a
run records about its process. Only the standard library and PyYAML below this line.
"""
