"""Performance benchmark of the WhatsApp broadcast path: ``python bench/run.py``.

Not part of ``make test``; see bench/README.md.
"""
