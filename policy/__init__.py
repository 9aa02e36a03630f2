"""Steward's policy layer: securable types, privileges, route requirements, the SQL
dialect (grammar, tree readers, parameter binding) and the Casbin enforcer.

It imports nothing else of Steward's; ``catalog`` and ``registry`` build
on it and decide, through it, who may do what.
"""
