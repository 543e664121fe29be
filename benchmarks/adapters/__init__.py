"""The optional peers of the engine benchmark: each runs the same workloads in another library.

``peer_libraries`` says which peers are installed and how to install the others;
``torch_peer``, ``jax_peer`` and ``autograd_peer`` write the workloads in PyTorch, JAX
and HIPS autograd. They are imported only when their library is there: none of them is
a dependency. ``python -m benchmarks.peers`` runs them.
"""
