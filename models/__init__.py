"""Models of the paper (logistic and softmax regression, ReLU, maxout and RBF networks).

Built only on :mod:`minigrad`'s public API. Not written yet: see the models issue.
"""
