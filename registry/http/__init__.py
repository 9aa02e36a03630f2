"""The registry's REST layer: thin routers over the registry's services."""
