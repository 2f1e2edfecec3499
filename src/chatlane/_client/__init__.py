"""``Client`` and ``AsyncClient``: the call flow of ``chatlane._call`` with their transports,
and the production pieces they are configured with (``production.py``) around it."""
