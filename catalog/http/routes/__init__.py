"""Routers of the catalog package; the composition root mounts them."""
