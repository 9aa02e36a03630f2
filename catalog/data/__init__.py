"""Rows of managed tables (feature tables): their physical layout, writes by merge or
append, reads by key and point in time, and the per-table row cache."""
