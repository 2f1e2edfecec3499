"""Provider rows (see registry)."""
