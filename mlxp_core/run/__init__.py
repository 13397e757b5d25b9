"""The job side: the process that runs the user's task.

`active` holds this process's run (set up at job start, finished at job end or on a signal),
`callbacks` is the Hydra callback that drives it, `context`/`logger`/`metrics`/`artifacts` are
what the task uses, `jobreturn` hands a job's result back to a waiting head. Importing this
package costs nothing: the modules load on use.
"""

# the Hydra `_target_` of mlxp's callback, as users' configs and job commands name it
CALLBACK_TARGET = "mlxp_core.callbacks.MLXPCallback"
