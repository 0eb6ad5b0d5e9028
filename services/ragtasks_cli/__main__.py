"""``python -m ragtasks_cli``: the same as the ``ragtasks`` console script."""

from .main import main

main()
