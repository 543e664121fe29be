"""Research tools: measurements that answered one question each, kept so they can be re-run.

* ``overhead_floor``: what the per-op overhead is made of (arithmetic, graph, minigrad's own work);
* ``instructions``: the per-op overhead counted in instructions under callgrind, which do not wander;
* ``compare_rows``: whether a change moved the reproduction's rows, seed by seed;
* ``adversarial_cost``: what an epoch of adversarial training costs over a clean one;
* ``cifar_presets``: what the CIFAR-10 stage costs per preset.

Each is run as ``python -m benchmarks.research.NAME``; ``docs/measurements.md`` has what they found.
What a reader runs first stays one level up: ``benchmarks.engine``, ``benchmarks.peers``.
"""
