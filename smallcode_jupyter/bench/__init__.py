"""Benchmarks: HumanEval-format datasets run vanilla, through the loop, or as best-of-n."""
