"""Access control in one room: the authorizer every decision goes through, grants, and the
Casbin policy (its rows, its adapter and its replica sync)."""
