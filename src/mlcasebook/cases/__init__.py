"""Facts a case's notebook, its checks and its tests share: business figures, grids, helpers the notebook hands out.

Everything here is public: the learner's kernel imports it, also inside the grading sandbox, where the rest
of :mod:`mlcasebook.checks` (reference answers, answer tables) is not importable.
``checks.<case>.<NAME>`` in a notebook resolves to ``cases.<case>.<NAME>``.
"""
