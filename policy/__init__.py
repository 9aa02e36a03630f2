"""Steward's policy layer: securable types, privileges and route requirements.

This package imports nothing else of Steward's; ``catalog`` and ``registry``
build on it. The SQL dialect and the Casbin enforcer land here too.
"""
