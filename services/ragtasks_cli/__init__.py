"""The composition root: the ``ragtasks`` command line, above every service package.

Each command wires what its process runs explicitly -- the gateway's app, a worker's task modules
and signal handlers, beat's schedule, the pika publisher -- instead of relying on a module's
import side effects. Nothing imports this package except the console script (and tests).
"""
