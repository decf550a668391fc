"""A real OVN in userspace for the run command, the tests and the benchmarks."""

from ovn_inject.sandbox.sandbox import DEFAULT_DIR, Sandbox

__all__ = ["DEFAULT_DIR", "Sandbox"]
