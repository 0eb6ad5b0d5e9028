"""The evaluator worker (queue ``evaluator``)."""
