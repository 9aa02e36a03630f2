"""Unique ids made without a system call each.

``uuid.uuid4()`` reads ``os.urandom``, a system call that gives up the interpreter lock;
under load the thread then waits to get it back behind whichever thread took it (up to
the interpreter's switch interval, 5 ms). Profiles of a loaded server put 6–8% of its
busy samples there, for ids that need to be unique, not secret: request ids, audit event
ids, statement ids, securable ids. So ids come from one generator seeded from the OS
once per process (and again in a forked child, which would otherwise repeat its
parent's ids). Anything that must be unguessable (tokens, secrets) uses :mod:`secrets`.
"""

from __future__ import annotations

import os
import random
import uuid

_GENERATOR = random.Random()


def _seed() -> None:
    _GENERATOR.seed(os.urandom(32))


_seed()
os.register_at_fork(after_in_child=_seed)


def random_uuid() -> str:
    """A random (version 4) UUID, as text: ``xxxxxxxx-xxxx-4xxx-…``."""
    return str(uuid.UUID(int=_GENERATOR.getrandbits(128), version=4))


def random_hex() -> str:
    """128 random bits as 32 hex digits."""
    return f"{_GENERATOR.getrandbits(128):032x}"
