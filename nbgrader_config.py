"""nbgrader configuration: instructors run plain nbgrader from the repository root.

solutions/<module>/<case>.ipynb is the source (with solutions and hidden tests);
notebooks/<module>/<case>.ipynb is the learner release committed for self-paced learners (`mlcasebook release`);
release/<module>/ is nbgrader's own release folder (git-ignored), so `nbgrader generate_assignment` writes there,
fills the gradebook and never touches notebooks/. Both hold the same cells (tests/test_cohort.py).
"""

import warnings

# nbgrader 0.9 with SQLAlchemy 2 prints "SAWarning: Object of type <SubmittedAssignment> not in session" on every
# autograde; it is harmless (the grades are written) and buried the messages that matter.
warnings.filterwarnings("ignore", message=r"Object of type <Submitted", module="nbgrader")

c = get_config()  # noqa: F821 - provided by nbgrader/traitlets

c.CourseDirectory.course_id = "mlcasebook"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Only notebooks are assignment files; data comes from the installed package.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Per-cell limit: the slowest solution cell takes a few seconds on 2 cores.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
# A learner who deletes a test cell gets it back, graded, in its original place.
c.OverwriteCells.add_missing_cells = True
# nbgrader's sanitize steps, with OverwriteCells quiet about the hidden tests a release never holds (#1961)
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "mlcasebook.grading.nbgrader_plugin.ReleasedCellsAreUnchanged",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.ReleasedCellsAreUnchanged.add_missing_cells = True

# autograde runs each submission the way `mlcasebook check` does: learner cells in the grading sandbox (which
# hides this folder, gradebook.db included), hidden tests in a separate verdict process. SandboxedExecute
# takes the place of nbgrader's Execute and SaveGrades of SaveAutoGrades; the other steps are nbgrader 0.9's defaults.
c.Autograde.autograde_preprocessors = [
    "mlcasebook.grading.nbgrader_plugin.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "mlcasebook.grading.nbgrader_plugin.SaveGrades",  # SaveAutoGrades; 0-point tasks need no grader
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback must never show hidden tests, their tracebacks or mark schemes: SafeFeedback shows each test cell
# as a placeholder with its part's message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "mlcasebook.grading.nbgrader_plugin.SafeFeedback",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
