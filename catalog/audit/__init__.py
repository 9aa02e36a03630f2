"""Who did what (SPEC §7): hash-chained audit events written with the changes they record."""
