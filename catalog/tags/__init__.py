"""Tags on securables and on table columns: the key/value labels Databricks calls tag
assignments. They are metadata people search and govern by; issue-level features that
act on them (ABAC policies matching ``has_tag_value``) read them through this package."""
