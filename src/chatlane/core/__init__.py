"""Pure building blocks: wire types, SSE, chunk accumulation, retry policy, error mapping.

Nothing here does I/O or imports an outer layer of chatlane.
"""
