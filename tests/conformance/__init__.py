"""Conformance tests: chatlane against recorded provider traffic and the official spec."""
