"""The parts of definition checking: the key tables, the builder from plain data, and the whole-file checks."""
