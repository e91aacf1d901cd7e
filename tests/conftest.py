"""The suite grades as a cohort worker does: kernels and verdict processes fork from pre-imported zygotes
(:mod:`mlcasebook.grading.zygote`), one pair per test process, started by the first grading that needs them.
The subprocess cases of the hostile catalogue and the CLI tests still start theirs cold, as ``mlcasebook check``
does, so both paths are graded by the suite."""


def pytest_configure(config):
    from mlcasebook.grading import zygote

    zygote.enable()
