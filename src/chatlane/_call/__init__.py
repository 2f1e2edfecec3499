"""The call flow both clients share: one request (``call.py``), its attempts and retries
(``flow.py``), the steps its drivers carry out (``steps.py``, ``drive.py``) and the seam the
production pieces plug into (``layers.py``). It knows no piece and no client."""
