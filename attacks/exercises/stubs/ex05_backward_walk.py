"""Exercise 5: the backward walk. Topological order, and adding up when a node is reused.

A computation is a graph: every node was computed by one op from its parents. Here a
node has

    node.parents   the nodes it was computed from (a tuple; a leaf has none)
    node.vjps      one function per parent: node.vjps[i](g) maps g = dL/dnode to
                   this node's contribution to dL/dparents[i]
    node.value     its value (a NumPy array), if you want to look

Nodes can be dict keys and set members (by identity).

Reverse-mode autodiff starts from the output (root) with dL/droot = seed and hands
gradients down to the parents. Two rules make it right:

1. A node may pass its gradient on only once it is complete, that is once every node
   that used it has contributed. Walking the nodes in reverse topological order
   (every node before its parents) guarantees that.
2. A node used several times (``b = a * a``, or ``c = b + b``) receives one contribution
   per use, and its gradient is their *sum* (the multivariable chain rule).

Check your work:  advex exercises check 5
"""


def topological_order(root):
    """Every node that ``root`` was computed from (root included), each *after* all of its parents.

    Each node appears once, however many paths lead to it.
    Hint: a depth-first search that appends a node after visiting all its parents
    (post-order), with a set of visited nodes. A recursive one is fine for the grader's
    small graphs; a chain of 10,000 ops would exceed Python's recursion limit, which is
    why the library's engine keeps an explicit stack.
    """
    raise NotImplementedError


def backward(root, seed):
    """{node: dL/dnode} for every node of ``topological_order(root)``, given dL/droot = ``seed``.

    Hint: walk ``reversed(topological_order(root))``; keep a dict of the gradients that
    have reached each node so far; for each node call ``node.vjps[i](grad)`` for each
    parent i and *add* the result into that parent's entry. Keeping a VJP's result as
    it is, is fine; but make a new array when you add (``total + g``, not ``total += g``):
    the arrays the VJPs return may be shared with other nodes.
    """
    raise NotImplementedError
