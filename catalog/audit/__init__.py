"""Who did what (docs/audit.md): hash-chained audit events written with the changes they record."""
