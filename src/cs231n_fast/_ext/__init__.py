"""Compiled kernels (private). Use cs231n_fast.ops, the drop-in modules or cs231n_fast.nn."""
