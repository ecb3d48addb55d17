"""The demo service the sandbox runs twice: blue on Python 3.11, green on 3.12.

It runs from its own small virtualenv, so it imports nothing from ``controller``: only the standard
library, prometheus_client and psycopg. The sandbox copies this directory next to its state and runs
it with ``python -m``, which is why every import inside it is relative.
"""
