"""Steward's catalog: the governed namespace, identity, access control, audit, lineage,
table rows and SQL, with their persistence and HTTP app. Builds on policy and common;
imports nothing of the registry."""
