"""Harness of the fault tests: a procedure, people and a counting receiver; a crash worker; the invariants."""
