"""Where Steward starts: the composition root (:mod:`steward.app`) and the command line
(:mod:`steward.cli`). The only package that may import all the others."""
